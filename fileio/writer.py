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
CREATE_NEW = _CREATE | os.O_EXCL  # a temporary, or a final name not there yet: must be new
# A final name, written in place: O_NONBLOCK, so that a FIFO there is found out (ENXIO without a reader, or
# by fstat), never waited on; no O_TRUNC, so that nothing there is truncated before it is checked
# (:func:`checked_in_place`).
CREATE_IN_PLACE = _CREATE | os.O_NONBLOCK
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


class NotAPlainFile(OSError):
    """Something at a final name that fileio will not write through in place: a FIFO, a socket, a device, or
    a regular file with other hard links (written in place, their file would change too)."""

    def __init__(self, what: str, path: str) -> None:
        super().__init__(errno.EINVAL, what, path)
        self.what = what

    def __str__(self) -> str:
        return f"{self.filename} is {self.what}, which fileio will not write through"

    def __reduce__(self) -> tuple[type[NotAPlainFile], tuple[str, str]]:
        return type(self), (self.what, self.filename)


def _what(mode: int, links: int) -> str | None:
    """What a final name holds that fileio will not write through in place, or None: a plain file, or what
    the system refuses itself (a directory: EISDIR)."""
    if stat.S_ISREG(mode):
        return f"a file with {links} hard links" if links > 1 else None
    kinds = {
        stat.S_ISFIFO: "a FIFO",
        stat.S_ISSOCK: "a socket",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), None)


def checked_in_place(fd: int, name: str) -> None:
    """Check what ``fd``, just opened at final name ``name`` with :data:`CREATE_IN_PLACE`, is: a plain
    regular file, emptied if need be; else it is closed and :class:`NotAPlainFile` raised."""
    found = os.fstat(fd)
    what = _what(found.st_mode, found.st_nlink)
    if what is not None:
        os.close(fd)
        raise NotAPlainFile(what, name)
    if found.st_size:
        os.ftruncate(fd, 0)


def open_in_place(name: str, dir_fd: int, fresh: bool = False) -> int:
    """Open final name ``name`` of directory ``dir_fd`` to write it in place, as :func:`checked_in_place`
    says; a FIFO or a socket, which cannot be opened without a reader, is refused as well. In a ``fresh``
    directory (empty when the save began) the file is first created new (O_EXCL), which needs no check."""
    if fresh:
        try:
            return os.open(name, CREATE_NEW, MODE, dir_fd=dir_fd)
        except FileExistsError:
            pass
    try:
        fd = os.open(name, CREATE_IN_PLACE, MODE, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ENXIO:  # a FIFO without a reader, or a socket
            raise refused(name, dir_fd) from None
        raise
    checked_in_place(fd, name)
    return fd


def refused(name: str, dir_fd: int) -> NotAPlainFile:
    """The refusal of what stands at ``name`` in directory ``dir_fd``, which an open in place found to be no
    file (ENXIO: a FIFO without a reader, or a socket)."""
    return NotAPlainFile(_standing(name, dir_fd) or "no regular file", name)


def _standing(name: str, dir_fd: int) -> str | None:
    """What stands at ``name`` (not followed) that no save writes through or renames over, or None: nothing,
    a file, a link, a directory."""
    try:
        found = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    return None if stat.S_ISLNK(found.st_mode) else _what(found.st_mode, 1)


def replace_checked(temp: str, name: str, dir_fd: int, fresh: bool = False) -> None:
    """Rename ``temp`` over final name ``name`` (both in directory ``dir_fd``), unless a FIFO, a socket or a
    device is there (:class:`NotAPlainFile`): someone's, which a rename would take away. A file, or a link
    of any kind, is replaced. In a ``fresh`` directory (empty when the save began) nothing is looked at: only
    what stood at a name when the save began is refused."""
    if not fresh and (what := _standing(name, dir_fd)) is not None:
        raise NotAPlainFile(what, name)
    os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def is_empty(name: str, dir_fd: int) -> bool:
    """Whether directory ``name`` (relative to ``dir_fd``) holds no entry; one read of its listing."""
    fd = open_directory(name, dir_fd)
    try:
        with os.scandir(fd) as entries:
            return next(entries, None) is None
    finally:
        os.close(fd)


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


def write_file(dir_fd: int, name: str, data: bytes, durability: str, owner: str, fresh: bool = False) -> None:
    """Write ``data`` to file ``name`` of directory ``dir_fd``: handed to the OS (none), fsync'd (fsync), or
    through a temporary of its own that is fsync'd and renamed over ``name`` (atomic). ``owner`` is
    :func:`owner_token` of the save. A symbolic link at ``name`` fails the first two with ELOOP, and
    anything else but a plain file with :class:`NotAPlainFile`; the third replaces a link or a file with
    other hard links, and refuses a FIFO, a socket or a device. ``fresh``: the directory was empty when
    the save began (:func:`open_in_place`, :func:`replace_checked`)."""
    if durability != "atomic":
        try:  # the common case first, where nothing can stand at the name (open_in_place)
            fd = os.open(name, CREATE_NEW, MODE, dir_fd=dir_fd) if fresh else open_in_place(name, dir_fd)
        except FileExistsError:
            fd = open_in_place(name, dir_fd)
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
        replace_checked(temp, name, dir_fd, fresh)
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
        with suppress(OSError):  # a read-only descriptor: its close loses nothing
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
        """Close every descriptor: once no file is being written any more. Each is closed; the first
        error, if any, is raised after."""
        fds = [*self._fds.values(), self.fd]
        self._fds.clear()
        self._users.clear()
        self._idle.clear()
        errors = []
        for fd in fds:
            try:
                os.close(fd)
            except OSError as error:
                errors.append(error)
        if errors:
            raise errors[0]
