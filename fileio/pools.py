"""Worker processes for saves: started as cheaply as is safe here, each fed over a pipe of its own; the
caller's side of :mod:`fileio.worker`. :mod:`fileio.sharing` shares a save between them and the caller.

Workers start as :func:`fileio.start.start_method` says: forked where that is safe, else from a fork server.
Forked workers are made before :meth:`Workers.start` returns, others on a thread while the caller works, so a
save waits for its workers no longer than forking takes.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection, wait
from typing import Any

from fileio.start import start_kind, start_method, started
from fileio.worker import PIPE_FAILED, STOP, serve
from fileio.writer import owner_token

POLL_SECONDS = 0.001  # while workers start: how often the caller, saving files itself, looks at their news
IN_FLIGHT_PER_WORKER = 2  # small tasks queued per worker, so that none waits for its next
JOIN_SECONDS = 5  # how long a worker told to exit, or killed, may take before it is killed (again)


def context(method: str) -> multiprocessing.context.BaseContext:
    """The multiprocessing context of ``method``; a fork server preloads fileio and the main program, which
    saves each of its workers the imports."""
    chosen = multiprocessing.get_context(method)
    if method == "forkserver":
        chosen.set_forkserver_preload(["__main__", "fileio.worker"])
    return chosen


class Workers:
    """``count`` worker processes, each with a pipe of its own; the caller's side of :mod:`fileio.worker`.

    :meth:`start` returns at once: forked workers are made before it returns, others on a thread of their own
    while the caller works. :meth:`news` gives what they sent, and ``("lost", None)`` for a worker whose pipe
    broke (it died).
    """

    def __init__(self, count: int, idle_s: float | None = None) -> None:
        self.count, self.idle_s = count, idle_s  # each exits after idle_s without a task
        self.method = self.kind = ""
        self.ready: set[int] = set()
        self.lost: set[int] = set()
        self.started_at = 0.0
        self.ready_after: float | None = None  # seconds from start to the first worker's "ready"
        self.blocking_s = 0.0  # seconds :meth:`start` took: forking the workers
        self._connections: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        self._lock = threading.Lock()  # between the starter thread and close()
        self._closed = False
        self._backlog: list[tuple[int, str, Any]] = []  # news read from workers lost since the last look
        self._causes: dict[int, OSError] = {}  # why a worker was lost, where its pipe failed here

    @property
    def started(self) -> bool:
        return bool(self.method) and not self._closed

    @property
    def usable(self) -> bool:
        """Started, and no worker lost."""
        if self.started and not self.lost:
            self.news(0)  # a worker that died while idle shows as a broken pipe
        return self.started and not self.lost

    def start(self) -> None:
        """Start the workers. Where they come from a fork server they re-import the main program: the caller
        has checked that it can (:func:`fileio.main_guard.check_main_module`)."""
        self.method = start_method()
        self.kind = start_kind(self.method)
        started(self.method)
        chosen = context(self.method)
        ends = [chosen.Pipe() for _ in range(self.count)]
        self._connections = [mine for mine, _ in ends]
        every_end = [end for pair in ends for end in pair]
        processes = []
        for n, (_, theirs) in enumerate(ends):
            # A forked worker inherits every end of every pipe, and closes all but its own: then a worker's
            # death, and the caller's closing, each reach the other side as the end of its pipe.
            inherited = [end for end in every_end if end is not theirs] if self.method == "fork" else []
            processes.append(
                chosen.Process(  # type: ignore[attr-defined]
                    target=serve,
                    args=(theirs, owner_token(), inherited, self.idle_s),
                    name=f"fileio-worker-{n}",
                    daemon=True,
                )
            )
        self.started_at = time.perf_counter()
        their_ends = [theirs for _, theirs in ends]
        if self.method == "fork":
            # The workers unblock SIGINT once they ignore it: no Ctrl-C reaches one before.
            blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self._launch(processes, their_ends)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            self.blocking_s = time.perf_counter() - self.started_at
        else:
            threading.Thread(target=self._launch, args=(processes, their_ends), daemon=True).start()

    def _launch(self, processes: list[Any], their_ends: list[Connection]) -> None:
        """Start each worker; one that cannot start (its fork or a pipe's close failed) is lost, with the
        error, and so are those after it: the caller and the others save their share."""
        for index, (process, theirs) in enumerate(zip(processes, their_ends, strict=True)):
            with self._lock:
                if self._closed:
                    return
                try:
                    process.start()
                except OSError as error:
                    for unstarted in range(index, self.count):
                        self._backlog.append((unstarted, "lost", None))
                        self._causes[unstarted] = error
                        self.lost.add(unstarted)
                    return
                self._processes.append(process)
            with suppress(OSError):  # where a close fails the worker still runs, with one pipe end more
                theirs.close()  # the worker's copy is now its only one

    def send(self, worker: int, function: Callable[..., Any], *args: Any) -> None:
        """Give ``worker`` the task ``function(*args)``. Where the send fails the worker is lost
        (:meth:`lose`), and the task with it."""
        self._send(worker, (function, args))

    def stop_tasks(self) -> None:
        """Ask running tasks, and those queued, to stop before their next file."""
        for index in range(len(self._connections)):
            if index not in self.lost:
                self._send(index, STOP)

    def _send(self, worker: int, message: Any) -> None:
        if worker in self.lost:
            return
        try:
            self._connections[worker].send(message)
        except OSError as error:  # a dead worker's broken pipe, or any failure of the write
            self.lose(worker, error)

    def lose(self, worker: int, cause: OSError) -> None:
        """Give up on ``worker``, whose pipe failed with ``cause``: a failed write may have sent part of a
        message, which no one can finish, so the worker is killed. Its news up to then, and then
        ``("lost", None)``, come from the next :meth:`news`."""
        with self._lock:
            process = self._processes[worker] if worker < len(self._processes) else None
        if process is not None:
            process.kill()
            process.join(JOIN_SECONDS)
        news = self._read(worker, until_lost=False)
        with self._lock:
            self._backlog += [*news, (worker, "lost", None)]
            self.lost.add(worker)
            if not isinstance(cause, BrokenPipeError):  # else it died: how, its exit status says
                # Kept without its traceback, whose frames hold this pool and the failed send's buffer: in
                # that cycle, CPython 3.12's collector freed a BytesIO before the view of it, and crashed.
                self._causes[worker] = cause.with_traceback(None)

    def news(self, timeout: float | None) -> list[tuple[int, str, Any]]:
        """What the workers sent, as ``(worker, kind, payload)``, waiting up to ``timeout`` for the first.
        A worker that has ended is lost, found by its pipe's end or by its process's sentinel (its pipe's
        end can be held open in another process, where a close failed)."""
        with self._lock:  # the starter thread adds to both
            received, self._backlog = self._backlog, []
            processes = list(enumerate(self._processes))
        watched: dict[Any, int] = {c: i for i, c in enumerate(self._connections) if i not in self.lost}
        watched.update({p.sentinel: i for i, p in processes if i not in self.lost})
        for ready in wait(list(watched), 0 if received else timeout):
            worker = watched[ready]
            if worker not in self.lost:
                received.extend(self._read(worker, ended=not isinstance(ready, Connection)))
        return received

    def _read(self, worker: int, until_lost: bool = True, ended: bool = False) -> list[tuple[int, str, Any]]:
        """Every whole message waiting from ``worker``; where its pipe has broken, or the worker has
        ``ended``, it is lost and ``("lost", None)`` ends them, unless ``until_lost`` is false."""
        connection, received = self._connections[worker], []
        try:
            while connection.poll():
                kind, payload = connection.recv()
                if kind == "ready":
                    self.ready.add(worker)
                    if self.ready_after is None:
                        self.ready_after = time.perf_counter() - self.started_at
                received.append((worker, kind, payload))
        except (EOFError, OSError):
            ended = True
        if ended and until_lost:
            self.lost.add(worker)
            received.append((worker, "lost", None))
        return received

    def close(self) -> None:
        """Let the workers go: each exits as soon as it has no task (none must be running). Ready workers
        are waited for, and killed after ``JOIN_SECONDS`` (one that never heard it should go); those still
        starting exit on their own as they find their pipe closed."""
        with self._lock:
            self._closed = True
            for connection in self._connections:
                # A worker forked later for another pool holds a copy of this end: the end of the pipe
                # alone might not reach the worker, so it is told. Neither can fail the save any more.
                with suppress(OSError):
                    connection.send(None)
                with suppress(OSError):
                    connection.close()
            processes = list(self._processes)
        for index, process in enumerate(processes):
            if index in self.ready or index in self.lost:
                process.join(JOIN_SECONDS)
                if process.exitcode is None:
                    process.kill()
                    process.join()

    def lost_error(self, worker: int) -> BaseException:
        """What to say of a lost worker: why its pipe failed here, or how it ended."""
        if worker in self._causes:
            return self._causes[worker]
        process = self._processes[worker] if worker < len(self._processes) else None
        if process is not None:
            process.join(1)  # its pipe closed as it died: its exit status follows at once
        code = process.exitcode if process is not None else None
        if code == PIPE_FAILED:
            return RuntimeError("a worker process could not write to its pipe to the caller, and stopped")
        how = f" (killed by {signal.Signals(-code).name})" if code is not None and code < 0 else ""
        return RuntimeError(f"a worker process terminated abruptly{how}")
