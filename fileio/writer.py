"""Writing one file with the chosen durability, and the directory-level steps around it.

An atomic write goes through a temporary file of its own in the target directory, named
``.NAME.OWNER.RANDOM.fileio-tmp``: OWNER is the saving process (``PID-START``, its pid and start time, so that
a reused pid is not mistaken for it) and RANDOM makes every write's name unique, so saves that run at once
never touch each other's temporaries. A temporary whose owner is gone is *stale*: its save died.
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from pathlib import Path

DURABILITIES = ("none", "fsync", "atomic")
TEMP_SUFFIX = ".fileio-tmp"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
_MODE = 0o666  # as open() does: the umask decides


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None when it is gone or unknown."""
    try:
        # Its main thread's record, the same as the process's: QEMU's user-mode emulator serves a stand-in for
        # a process's own /proc/PID/stat whose start time can be a tick off the kernel's, but not this one.
        with open(f"/proc/{pid}/task/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_token(pid: int | None = None) -> str:
    """The token naming the process that owns a save's temporaries: this process unless ``pid`` is given."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}-{_start_time(pid) or 0}"


def owner_alive(owner: str) -> bool:
    """Whether the process an owner token names still runs (the same process, not a reuse of its pid)."""
    pid, _, started = owner.partition("-")
    if not pid.isdigit():
        return False
    if Path("/proc/self/stat").exists():
        return _start_time(int(pid)) == started
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def temporary_owner(name: str) -> str | None:
    """The owner token in a temporary's name, or None for any other name."""
    if not is_temporary(name):
        return None
    parts = name[: -len(TEMP_SUFFIX)].rsplit(".", 2)
    return parts[1] if len(parts) == 3 else None


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)
    if written < len(data):  # a short write: rare, but allowed (signals, some filesystems)
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def temporary_name(path: str, owner: str) -> str:
    """A name for a temporary beside ``path``, unique to one write (64 random bits; created with O_EXCL)."""
    directory, name = os.path.split(path)
    return os.path.join(directory, f".{name}.{owner}.{secrets.token_hex(8)}{TEMP_SUFFIX}")


def write_file(path: str, data: bytes, durability: str, owner: str) -> None:
    """Write ``data`` to ``path``: handed to the OS (none), fsync'd (fsync), or through a temporary of its own
    that is fsync'd and renamed over ``path`` (atomic). ``owner`` is :func:`owner_token` of the save."""
    if durability != "atomic":
        fd = os.open(path, _CREATE | os.O_TRUNC, _MODE)
        try:
            _write_all(fd, data)
            if durability == "fsync":
                os.fsync(fd)
        finally:
            os.close(fd)
        return
    temp = temporary_name(path, owner)
    fd = os.open(temp, _CREATE | os.O_EXCL, _MODE)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make the names created or renamed in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temporaries(directory: str | os.PathLike[str], owner: str | None = None) -> int:
    """Delete the temporaries of ``owner`` in ``directory`` (after a failed save), or with no owner the stale
    ones, of saves that died; those of saves still running are left alone. Returns how many were removed."""
    removed = 0
    with suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            found = temporary_owner(entry.name)
            if found is None or (found != owner if owner else owner_alive(found)):
                continue
            with suppress(FileNotFoundError):
                os.unlink(entry.path)
                removed += 1
    return removed
