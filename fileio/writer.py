"""Writing one file with the chosen durability, and the directory-level steps around it.

An atomic write goes through a temporary file of its own in the target directory, named
``.NAME.OWNER.RANDOM.fileio-tmp``: OWNER is the saving process (``PID-START``, its pid and start time, so that
a reused pid is not mistaken for it) and RANDOM makes every write's name unique, so saves that run at once
never touch each other's temporaries. A temporary whose owner is gone is *stale*: its save died.

Every file is opened by a single name relative to a descriptor of its directory (:class:`Directories`), and
no symbolic link is ever followed: not at a file's name, not at a subdirectory's, not at the save directory's
own. A link where a file goes is refused (:class:`SymlinkRefused`) by an open in place, and replaced by an
atomic write's rename, which renames over the link itself.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from contextlib import suppress

DURABILITIES = ("none", "fsync", "atomic")
TEMP_SUFFIX = ".fileio-tmp"
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
CREATE_NEW = _CREATE | os.O_EXCL  # a temporary: must be new
CREATE_OR_TRUNCATE = _CREATE | os.O_TRUNC  # a final name, written in place
MODE = 0o666  # as open() does: the umask decides
# O_RDONLY, not O_PATH: the same descriptor is listed and fsync'd.
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted at a final name is found out, not waited on.
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
NOT_NAMES = ("", ".", "..")  # not a file's or a directory's name


class SymlinkRefused(OSError):
    """A symbolic link where fileio writes or reads a file or a directory: fileio never follows one."""

    def __init__(self, path: str) -> None:
        super().__init__(errno.ELOOP, "a symbolic link, which fileio will not follow", path)

    def __str__(self) -> str:
        return f"{self.filename} is a symbolic link, which fileio will not follow"

    def __reduce__(self) -> tuple[type[SymlinkRefused], tuple[str]]:
        return type(self), (self.filename,)


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot), or None when it is gone or unknown."""
    try:
        # Its main thread's record, the same as the process's: QEMU's user-mode emulator serves a stand-in for
        # a process's own /proc/PID/stat whose start time can be a tick off the kernel's, but not this one.
        with open(f"/proc/{pid}/task/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


_own_token: tuple[int, str] | None = None  # this process's pid and token, read once (a fork gets a new pid)


def owner_token(pid: int | None = None) -> str:
    """The token naming the process that owns a save's temporaries: this process unless ``pid`` is given."""
    global _own_token
    if pid is None:
        pid = os.getpid()
        if _own_token is None or _own_token[0] != pid:
            _own_token = (pid, owner_token(pid))
        return _own_token[1]
    return f"{pid}-{_start_time(pid) or 0}"


def owner_alive(owner: str) -> bool:
    """Whether the process an owner token names still runs (the same process, not a reuse of its pid)."""
    pid, _, started = owner.partition("-")
    if not pid.isdigit():
        return False
    if os.path.exists("/proc/self/stat"):
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
    directory, slash, name = path.rpartition("/")
    return f"{directory}{slash}.{name}.{owner}.{os.urandom(8).hex()}{TEMP_SUFFIX}"


def write_file(dir_fd: int, name: str, data: bytes, durability: str, owner: str) -> None:
    """Write ``data`` to file ``name`` of directory ``dir_fd``: handed to the OS (none), fsync'd (fsync), or
    through a temporary of its own that is fsync'd and renamed over ``name`` (atomic). ``owner`` is
    :func:`owner_token` of the save. A symbolic link at ``name`` fails the first two with ELOOP and is
    replaced by the third."""
    if durability != "atomic":
        fd = os.open(name, CREATE_OR_TRUNCATE, MODE, dir_fd=dir_fd)
        try:
            _write_all(fd, data)
            if durability == "fsync":
                os.fsync(fd)
        finally:
            os.close(fd)
        return
    temp = temporary_name(name, owner)
    fd = os.open(temp, CREATE_NEW, MODE, dir_fd=dir_fd)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dir_fd)
        raise


def open_directory(path: str, dir_fd: int | None = None, shown: str | None = None) -> int:
    """A descriptor of directory ``path`` (relative to ``dir_fd`` if given) to open files in, list and fsync,
    never through a symbolic link at its last component: :class:`SymlinkRefused` naming ``shown`` (or
    ``path``) there."""
    try:
        return os.open(path, _DIRECTORY, dir_fd=dir_fd)
    except NotADirectoryError:  # what O_DIRECTORY | O_NOFOLLOW says of a link too
        try:
            link = stat.S_ISLNK(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            link = False
        if link:
            raise SymlinkRefused(shown or path) from None
        raise


def open_regular(name: str, dir_fd: int) -> int | None:
    """A descriptor to read regular file ``name`` of directory ``dir_fd``, or None where there is none:
    nothing, a symbolic link (not followed), a directory, a FIFO."""
    try:
        fd = os.open(name, _READ, dir_fd=dir_fd)
    except OSError:
        return None
    if stat.S_ISREG(os.fstat(fd).st_mode):
        return fd
    os.close(fd)
    return None


def fsync_directory(
    directory: str | os.PathLike[str], dir_fd: int | None = None, shown: str | None = None
) -> None:
    """Make the names created or renamed in ``directory`` (relative to ``dir_fd`` if given) durable."""
    fd = open_directory(os.fspath(directory), dir_fd, shown)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temporaries(
    directory: str | os.PathLike[str], owner: str | None = None, dir_fd: int | None = None
) -> int:
    """Delete the temporaries of ``owner`` in ``directory`` (relative to ``dir_fd`` if given) after a failed
    save, or with no owner the stale ones, of saves that died; those of saves still running are left alone.
    A directory that is missing, or a symbolic link (not followed), holds none. Returns how many were
    removed."""
    try:
        fd = open_directory(os.fspath(directory), dir_fd)
    except (FileNotFoundError, NotADirectoryError, SymlinkRefused):
        return 0
    removed = 0
    try:
        with os.scandir(fd) as entries:
            names = [entry.name for entry in entries]
        for name in names:
            found = temporary_owner(name)
            if found is None or (found != owner if owner else owner_alive(found)):
                continue
            with suppress(FileNotFoundError):
                os.unlink(name, dir_fd=fd)
                removed += 1
    finally:
        os.close(fd)
    return removed


class Directories:
    """A save's directory, open, and the subdirectories its files go to, opened relative to it when first
    needed: each file is then opened by its last name relative to one of them, so that a name swapped for a
    symbolic link during the save cannot redirect a write. For one process, shared by its threads.

    :meth:`acquire` a file's directory and :meth:`release` it once done with the descriptor: a subdirectory no
    file is using stays open for the next (up to ``KEEP_IDLE`` of them), and is closed only then.
    """

    KEEP_IDLE = 8

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = open_directory(path)
        self._lock = threading.Lock()
        self._fds: dict[str, int] = {}  # subdirectory -> descriptor
        self._users: dict[str, int] = {}  # subdirectory -> files using it now
        self._idle: dict[str, None] = {}  # open, used by no file: least recently released first

    def acquire(self, name: str) -> tuple[int, str]:
        """The descriptor of the directory the file ``name`` (as a workload names it) goes in, and its name
        there. ValueError for a name that would leave the directory (checked before any save: a second
        guard); SymlinkRefused, or the OSError, where its subdirectory cannot be opened."""
        subdirectory, slash, leaf = name.partition("/")
        if not slash:
            return self.fd, name
        if subdirectory in NOT_NAMES or "/" in leaf:
            raise ValueError(f"file name {name!r} is not a name inside the directory")
        with self._lock:
            fd = self._fds.get(subdirectory)
            if fd is None:
                shown = os.path.join(self.path, subdirectory)
                fd = self._fds[subdirectory] = open_directory(subdirectory, self.fd, shown)
            self._users[subdirectory] = self._users.get(subdirectory, 0) + 1
            self._idle.pop(subdirectory, None)
        return fd, leaf

    def release(self, name: str) -> None:
        """Done with the descriptor that :meth:`acquire` gave for file ``name``."""
        subdirectory, slash, _ = name.partition("/")
        if not slash:
            return
        with self._lock:
            self._users[subdirectory] -= 1
            if self._users[subdirectory]:
                return
            del self._users[subdirectory]
            self._idle[subdirectory] = None
            if len(self._idle) > self.KEEP_IDLE:
                oldest = next(iter(self._idle))
                del self._idle[oldest]
                os.close(self._fds.pop(oldest))

    def named(self, error: BaseException, name: str) -> BaseException:
        """``error``, of a call relative to the directory of file ``name``, naming whole paths (such a call's
        error names only the last component); O_NOFOLLOW's refusal of a link there (ELOOP) as
        :class:`SymlinkRefused` naming the file."""
        if not isinstance(error, OSError) or isinstance(error, SymlinkRefused):
            return error
        if error.errno == errno.ELOOP:
            return SymlinkRefused(os.path.join(self.path, name))
        directory = os.path.join(self.path, os.path.dirname(name))
        if isinstance(error.filename, str):
            error.filename = os.path.join(directory, error.filename)
        if isinstance(error.filename2, str):
            error.filename2 = os.path.join(directory, error.filename2)
        return error

    def close(self) -> None:
        """Close every descriptor: once no file is being written any more."""
        for fd in [*self._fds.values(), self.fd]:
            os.close(fd)
        self._fds.clear()
        self._users.clear()
        self._idle.clear()
