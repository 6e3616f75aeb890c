"""The worker's side of the protocol between the caller and its worker processes (:mod:`fileio.pools` is the
caller's side).

Each worker has a pipe of its own to the caller. It says ``("ready", None)`` once started, then runs each
task ``(function, args)`` it receives. It says ``("took", None)`` before it starts one: a worker lost before
that wrote nothing of it, and the task can go elsewhere. While a task runs it sends the files it saved as
``("saved", [(id, bytes), ...])`` bundles, and when it ends ``("done", result)`` or ``("failed", error)``.
:data:`STOP` asks the running task, and those queued behind it, to stop before their next file (a task looks
for it every millisecond or so). ``None``, or the caller's end of the pipe closing, tells the worker to exit.
A worker whose pipe fails otherwise (a write that fails may have sent part of a message) exits at once with
:data:`PIPE_FAILED`, between two files: the caller finds it lost.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress

from fileio.job import Job
from fileio.writer import owner_alive

CALLER_POLL_SECONDS = 0.2  # where a process cannot be waited for (no pidfd): how often to look

TYPE_CHECKING = False
if TYPE_CHECKING:  # multiprocessing.connection alone costs ~20 ms to import
    from multiprocessing.connection import Connection
    from typing import Any

# Reports go in bundles: a message per file would cost as much as a small file's write. A bundle leaves when
# it is this old, and when a task ends: each costs the caller a wake-up, which takes a core from the workers
# where they fill the CPUs (64 files a bundle cost 4,000 files of 4 KiB 6 % here; docs/auto.md).
REPORT_SECONDS = 0.005
STOP = "stop"
LOOK_SECONDS = 0.001  # how often a running task looks for STOP
PIPE_FAILED = 75  # a worker's exit status where its pipe to the caller failed

_connection: Connection | None = None  # in a worker process: its pipe to the caller
_queued: deque[Any] = deque()  # messages read while looking for STOP
_stopping = False
_last_look = 0.0
_unreported: list[tuple[int, int]] = []
_last_report = 0.0


class _PipeFailed(BaseException):
    """The pipe to the caller failed: the worker ends (not an Exception: no task may catch it)."""


def _send(message: tuple[str, Any]) -> None:
    assert _connection is not None
    try:
        _connection.send(message)
    except (EOFError, BrokenPipeError):  # the caller is gone or has closed the pool
        raise
    except OSError as error:
        raise _PipeFailed from error


def serve(
    connection: Connection, owner: str, inherited: list[Connection], idle_s: float | None = None
) -> None:
    """A worker process's life: run tasks from the caller until told to exit, or until it has had none for
    ``idle_s`` seconds. ``inherited``: the other ends of pipes a forked worker holds copies of, which it
    closes."""
    global _connection
    # Ctrl-C is the caller's to handle: it stops the tasks and then the workers. A forked worker starts with
    # SIGINT blocked (fileio.pools), so that no Ctrl-C lands before this line.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    for end in inherited:
        with suppress(OSError):  # another pipe's end, still open: a worker that exits closes it anyway
            end.close()
    exit_with(owner)
    _connection = connection
    try:
        _send(("ready", None))
        while (task := _next_task(connection, idle_s)) is not None:
            function, args = task
            _send(("took", None))
            try:
                outcome = ("done", function(*args))
            except Exception as error:
                outcome = ("failed", _picklable(error))
            _send_reports()
            _send(outcome)
    except (EOFError, BrokenPipeError):  # the caller is gone or has closed the pool
        pass
    except (_PipeFailed, OSError):
        sys.exit(PIPE_FAILED)


def _next_task(connection: Connection, idle_s: float | None) -> Any:
    global _stopping
    while not _queued:
        _stopping = False  # idle: nothing is left of the save a STOP was for
        if idle_s is not None and not connection.poll(idle_s):
            return None  # idle too long: the caller finds it gone, and starts another when it needs one
        message = connection.recv()
        if message != STOP:
            return message
    return _queued.popleft()


def _picklable(error: Exception) -> Exception:
    import pickle

    try:
        pickle.dumps(error)
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
    return error


def report_saved(file_id: int, nbytes: int) -> None:
    """In a worker process: tell the caller one file is saved (soon: reports leave in bundles)."""
    _unreported.append((file_id, nbytes))
    if time.monotonic() - _last_report >= REPORT_SECONDS:
        _send_reports()


def _send_reports() -> None:
    global _last_report
    if _unreported and _connection is not None:
        _send(("saved", _unreported[:]))
        _unreported.clear()
    _last_report = time.monotonic()


def stop_requested() -> bool:
    """In a worker process: whether the caller asked running tasks to stop."""
    global _stopping, _last_look
    now = time.monotonic()
    if _connection is None or _stopping or now - _last_look < LOOK_SECONDS:
        return _stopping
    _last_look = now
    try:
        while _connection.poll():
            message = _connection.recv()
            if message == STOP:
                _stopping = True
            else:
                _queued.append(message)
    except (EOFError, OSError):  # the caller is gone
        _stopping = True
    return _stopping


SaveBatch = Callable[[Job, list[int]], None]


def run_batch(save_batch: SaveBatch, job: Job, batch: list[int]) -> None:
    """In a worker process: ``save_batch`` with the job's directory open (once per batch)."""
    with job.opened(batch) as opened:
        save_batch(opened, batch)


def save_each(job: Job, batch: list[int]) -> None:
    """Save a batch one file after another, reporting each, until told to stop."""
    for file_id in batch:
        if stop_requested():
            return
        report_saved(file_id, job.save(file_id))


def _kill_self_when_gone(owner: str) -> None:
    import select

    pid = int(owner.partition("-")[0])
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: look now and then
        while owner_alive(owner):
            time.sleep(CALLER_POLL_SECONDS)
    else:
        if owner_alive(owner):  # the pidfd is of the caller itself, not of a process that reused its pid
            select.select([handle], [], [])
    os.kill(os.getpid(), signal.SIGKILL)


def exit_with(owner: str) -> None:
    """In a worker process: die (SIGKILL: at once, writing nothing more) as soon as the caller named by the
    owner token ends, however it ends. The fork server keeps workers' parent alive, so the parent's death
    cannot be the signal; a thread of the worker waits on the caller itself."""
    threading.Thread(target=_kill_self_when_gone, args=(owner,), name="fileio-exit-with", daemon=True).start()
