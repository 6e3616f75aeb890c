# Sourced by CI's scripts, not run: a minimal Debian root with a copy of this checkout, and commands run in it
# as on a new machine. The caller removes the root (rm -rf --one-file-system) at exit.

# make_root DIR SUITE PACKAGES: debootstrap SUITE into DIR with PACKAGES (comma-separated), then what reaches
# the package registries from this machine (its resolver, pip's settings, its CA bundle) and a copy of the
# checkout's HEAD in /home/user/fileio.
make_root() {
    local mirror bundle=/etc/ssl/certs/ca-certificates.crt
    command -v debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
    mirror="$(sed -n 's|^URIs: \(.*debian\)$|\1|p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
    debootstrap --variant=minbase --include="$3" "$2" "$1" "${mirror:-http://deb.debian.org/debian}" >/dev/null
    cp /etc/resolv.conf "$1/etc/"
    if [ -e /etc/pip.conf ]; then cp /etc/pip.conf "$1/etc/"; fi
    if [ -e "$bundle" ]; then mkdir -p "$1/etc/ssl/certs" && cp "$bundle" "$1$bundle"; fi
    mkdir -p "$1/home/user/fileio"
    git archive HEAD | tar -x -C "$1/home/user/fileio"
}

# in_root DIR COMMAND [NAME=VALUE ...]: COMMAND by sh in the root's /home/user/fileio, with a bare
# environment (and the variables given), /proc, /dev and /sys mounted in a mount namespace of its own: they
# go with it, and nothing stays mounted on the machine.
in_root() {
    local root="$1" command="$2"
    shift 2
    unshare --mount --propagation private -- sh -c '
        root="$1" command="$2"; shift 2
        mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && mount --rbind /sys "$root/sys" &&
        exec chroot "$root" env -i PATH=/usr/bin:/bin HOME=/root LANG=C.UTF-8 "$@" \
            sh -c "cd /home/user/fileio && $command"' sh "$root" "$command" "$@"
}
