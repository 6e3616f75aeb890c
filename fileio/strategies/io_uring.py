"""io_uring: one thread keeps ``workers`` files in flight through a Linux io_uring ring (the ``liburing``
package). Each file's open is submitted alone, relative to its directory's descriptor and never through a
symbolic link (O_NOFOLLOW); once its descriptor is known, its write, fsync (fsync and atomic) and close go in
as one linked chain, so many fsyncs wait at once. An atomic file is written to a temporary of its own and
renamed with :func:`os.replace` after its close.

The binding is ``liburing`` 2024.5.3, pinned (``pip install 'fileio[uring]'``): it is built from source at
install time, for the CPU it is installed on. The 2026 wheels execute AVX-512 instructions when a ring is made
and kill the interpreter on CPUs without them (see the README). Its submodules are loaded without its
package ``__init__``, whose ``dynamic_import`` rewrites a file inside site-packages at every import (it never
reads it back: a bug of dynamic_import 2024.5.2), which fails on a read-only install, under ``RLIMIT_FSIZE``
and when two processes import it at once."""

from __future__ import annotations

import errno
import os
import sys
from contextlib import suppress
from functools import cache
from types import SimpleNamespace

from fileio.errors import SaveError
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy
from fileio.writer import (
    CREATE_IN_PLACE,
    CREATE_NEW,
    MODE,
    checked_in_place,
    refused,
    replace_checked,
    temporary_name,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

_OPEN, _WRITE, _FSYNC, _CLOSE = range(4)  # an operation's kind: user_data is slot * 4 + kind, slots from 1
# From the kernel's ABI (linux/io_uring.h), which the binding does not export at its top level.
_IOSQE_IO_LINK = 1 << 2
_IORING_SETUP_CLAMP = 1 << 4
_OPS_PER_FILE = 3  # at most in flight for one file: write, fsync, close


class _File:
    """One file in flight: what it writes, its descriptor once open, and its operations still running."""

    def __init__(self, file_id: int, entry: str, dir_fd: int, final: str, name: str, data: bytes) -> None:
        self.file_id, self.data = file_id, data
        self.entry = entry  # its name in the save directory, as the workload gives it
        self.dir_fd = (
            dir_fd  # the directory it goes in (acquired from the job's Directories until it is done)
        )
        self.final = final  # its name there
        self.name = name  # the name written there: ``final``, or its temporary for an atomic save
        self.encoded_name = os.fsencode(name)  # what the open in flight reads: kept alive until it completes
        self.chunk = b""  # the bytes of the write in flight: kept alive until it completes
        self.fd = -1
        self.created = False  # whether its open succeeded: only then is a temporary ours to remove
        self.written = 0
        self.pending = 0
        self.error: OSError | None = None


class _Ring:
    """The files in flight on one ring, by slot; failures are collected and stop new submissions."""

    def __init__(
        self, uring: SimpleNamespace, ring: object, job: Job, workers: int, on_saved: OnSaved
    ) -> None:
        self.uring, self.ring, self.job, self.on_saved = uring, ring, job, on_saved
        self.directories = job.dirs
        self.cqe = uring.io_uring_cqe()
        self.files: dict[int, _File] = {}
        self.free = list(range(1, workers + 1))  # the binding refuses a user_data of 0
        self.in_flight = 0
        self.errors: list[SaveError] = []
        self.stopping = False

    def run(self, ids: list[int]) -> None:
        """Save every id; on a failure or an interrupt, wait for the operations in flight and clean up."""
        todo = iter(ids)
        try:
            while True:
                while not self.stopping and self.free and (file_id := next(todo, None)) is not None:
                    self._start(self.free.pop(), file_id)
                if not self.in_flight:
                    break
                self._wait()
        finally:
            self.stopping = True
            while self.in_flight:
                self._wait()
            for file in self.files.values():
                self._discard(file)
                self.directories.release(file.entry)
        if self.errors:
            raise SaveError.merge(self.errors)

    def _queue(self, slot: int, kind: int) -> Any:
        """A submission entry for the file in ``slot``; the caller prepares it."""
        sqe = self.uring.io_uring_get_sqe(self.ring)
        if not sqe:  # the submission queue is full (a ring clamped below ``workers`` files): send it off
            self.uring.io_uring_submit(self.ring)
            sqe = self.uring.io_uring_get_sqe(self.ring)
        sqe.user_data = slot * 4 + kind
        self.files[slot].pending += 1
        self.in_flight += 1
        return sqe

    def _start(self, slot: int, file_id: int) -> None:
        entry = self.job.workload.file_name(file_id)  # checked before the save: it stays inside
        try:
            data = self.job.generate(file_id)
            dir_fd, final = self.directories.acquire(entry)
        except Exception as error:
            self._fail(error if isinstance(error, SaveError) else SaveError([file_id], error))
            self.free.append(slot)
            return
        atomic = self.job.durability == "atomic"
        name = temporary_name(final, self.job.owner) if atomic else final
        file = self.files[slot] = _File(file_id, entry, dir_fd, final, name, data)
        flags = CREATE_NEW if atomic else CREATE_IN_PLACE
        sqe = self._queue(slot, _OPEN)
        self.uring.io_uring_prep_openat(sqe, file.encoded_name, flags, MODE, file.dir_fd)

    def _write_chain(self, slot: int, file: _File) -> None:
        """Submit the rest of the file's bytes, its fsync and its close, linked: a failed or short write
        cancels the rest of the chain."""
        uring, link = self.uring, _IOSQE_IO_LINK
        file.chunk = file.data[file.written :] if file.written else file.data
        sqe = self._queue(slot, _WRITE)
        uring.io_uring_prep_write(sqe, file.fd, file.chunk, len(file.chunk), file.written)
        sqe.flags = link
        if self.job.durability != "none":
            sqe = self._queue(slot, _FSYNC)
            uring.io_uring_prep_fsync(sqe, file.fd)
            sqe.flags = link
        uring.io_uring_prep_close(self._queue(slot, _CLOSE), file.fd)

    def _wait(self) -> None:
        """Submit what is queued, wait for at least one completion and handle every one that is ready."""
        uring = self.uring
        try:
            uring.io_uring_submit_and_wait(self.ring, 1)
        except InterruptedError:
            return
        entry = self.cqe
        for _ in range(uring.io_uring_cq_ready(self.ring)):
            uring.io_uring_peek_cqe(self.ring, entry)
            user_data, result = entry.user_data, entry.res
            self.in_flight -= 1
            uring.io_uring_cqe_seen(self.ring, entry)
            slot, kind = divmod(user_data, 4)
            self._complete(slot, kind, max(result, 0), max(-result, 0))

    def _complete(self, slot: int, kind: int, result: int, error: int) -> None:
        file = self.files[slot]
        file.pending -= 1
        if error == errno.ECANCELED:  # a link after a failed or short write: the file goes on from its state
            pass
        elif kind == _OPEN and error == errno.ENXIO:  # a FIFO without a reader, or a socket: refused
            file.error = file.error or refused(file.name, file.dir_fd)
        elif error:
            file.error = file.error or OSError(error, os.strerror(error), file.name)
            if kind == _CLOSE:
                file.fd = -1  # a failed close still releases the descriptor
        elif kind == _OPEN:
            file.fd, file.created = result, True
            if file.name == file.final:  # in place: a plain file, emptied, or it is closed and refused
                try:
                    checked_in_place(file.fd, file.name)
                except OSError as refusal:
                    file.fd, file.error = -1, refusal
        elif kind == _WRITE:
            file.written += result
        elif kind == _CLOSE:
            file.fd = -1
        if not file.pending:
            self._advance(slot, file)

    def _advance(self, slot: int, file: _File) -> None:
        """The file's operations are all done: go on, finish it, or give it up."""
        if file.error is None and not self.stopping and file.fd >= 0:
            self._write_chain(slot, file)  # just opened, or after a short write
            return
        del self.files[slot]
        self.free.append(slot)
        try:
            if file.error is None and not self.stopping and file.written < len(file.data):
                file.error = OSError(errno.EIO, "short write not completed", file.name)
            if file.error is None and not self.stopping and file.name != file.final:
                try:
                    replace_checked(file.name, file.final, file.dir_fd)
                except OSError as error:
                    file.error = error
            if file.error is not None or self.stopping:
                self._discard(file)
                if file.error is not None:
                    self._fail(SaveError([file.file_id], self.directories.named(file.error, file.entry)))
                return
            self.on_saved(file.file_id, len(file.data))
        finally:
            self.directories.release(file.entry)

    def _discard(self, file: _File) -> None:
        """Close the file's descriptor if still open and remove its temporary."""
        if file.fd >= 0:
            with suppress(OSError):
                os.close(file.fd)
            file.fd = -1
        if file.created and file.name != file.final:
            with suppress(FileNotFoundError):
                os.unlink(file.name, dir_fd=file.dir_fd)

    def _fail(self, error: SaveError) -> None:
        self.errors.append(error)
        self.stopping = True


@cache
def binding() -> SimpleNamespace:
    """liburing's ring, submission and completion functions (``io_uring_*``), loaded from its submodules."""
    import importlib.util  # here: only a save on io_uring, in its child interpreter or its own, needs it

    spec = importlib.util.find_spec("liburing")
    if spec is None:
        raise ModuleNotFoundError("No module named 'liburing'", name="liburing")
    # The submodules import each other through the package: unless it is imported already, a bare one stands
    # in for it while they load.
    stand_in = "liburing" not in sys.modules
    if stand_in:
        sys.modules["liburing"] = importlib.util.module_from_spec(spec)
    try:
        modules: list[ModuleType] = [
            importlib.import_module(f"liburing.{name}") for name in ("queue", "file", "common")
        ]
    finally:
        if stand_in:
            del sys.modules["liburing"]
    return SimpleNamespace(
        **{
            name: value
            for module in modules
            for name, value in vars(module).items()
            if name.startswith("io_")
        }
    )


def unavailable() -> str | None:
    """Why no io_uring ring can be set up here (an old kernel, seccomp, ``kernel.io_uring_disabled``, an
    emulator without it), or None. Run in a child interpreter (:mod:`fileio.isolation`)."""
    liburing = binding()
    ring = liburing.io_uring()
    try:
        liburing.io_uring_queue_init(1, ring)
    except OSError as error:
        disabled = "0"
        with suppress(FileNotFoundError), open("/proc/sys/kernel/io_uring_disabled") as setting:
            disabled = setting.read().strip()
        sysctl = f", kernel.io_uring_disabled = {disabled}" if disabled != "0" else ""
        return f"io_uring is unavailable ({error}{sysctl})"
    liburing.io_uring_queue_exit(ring)
    return None


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save with ``workers`` files in flight on one ring, in the caller's thread."""
    liburing = binding()
    ring = liburing.io_uring()
    liburing.io_uring_queue_init(workers * _OPS_PER_FILE, ring, _IORING_SETUP_CLAMP)
    try:
        _Ring(liburing, ring, job, workers, on_saved).run(ids)
    finally:
        liburing.io_uring_queue_exit(ring)


STRATEGY = Strategy(
    "io_uring",
    "one thread keeping `workers` files in flight on an io_uring ring: open, then write+fsync+close linked",
    _save,
    requires="liburing",
    install="pip install 'fileio[uring]'",
    available=unavailable,
)
