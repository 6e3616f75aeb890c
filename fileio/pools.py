"""Worker processes for saves: started as cheaply as is safe here, each fed over a pipe of its own, and the
loop that shares a save between them and the caller (:mod:`fileio.worker` is the workers' side).

Workers start as :func:`fileio.start.start_method` says: forked where that is safe, else from a fork server.
A pool makes a save wait for it no longer than forking takes: the caller saves files from the front of the ids
while its workers start, each worker takes work from the back as it becomes ready, and the caller stops saving
once all are.
"""

from __future__ import annotations

import math
import multiprocessing
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import suppress
from multiprocessing.connection import Connection, wait
from typing import Any, NamedTuple

from fileio import bounded
from fileio.errors import SaveError
from fileio.guards import raise_if_interrupted
from fileio.job import Job, OnSaved, Pool
from fileio.start import start_kind, start_method, started
from fileio.worker import PIPE_FAILED, STOP, SaveBatch, run_batch, serve
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


class Shared(NamedTuple):
    """How a save was shared (:func:`run_batches`): the seconds from starting a new pool to its first ready
    worker (None on a warm pool, or where none was ready before the files ran out), of those the seconds
    starting it held the caller (forking its workers), when it could not save files, and the ids left unsaved
    where ``keep_on`` stopped the workers."""

    ready_s: float | None
    blocking_s: float
    left: list[int]


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
        has checked that it can (:func:`fileio.guards.check_main_module`)."""
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


def run_batches(
    save_batch: SaveBatch,
    job: Job,
    ids: list[int],
    workers: int,
    on_saved: OnSaved,
    batch_size: int | None = None,
    keep_on: Callable[[], bool] | None = None,
    warm: Pool | None = None,
) -> Shared:
    """Save ``ids`` with ``save_batch`` on ``workers`` worker processes: those of ``warm`` or the job's warm
    pool (started if need be), or new ones, while the caller saves files itself until they are ready. With
    ``batch_size`` None each worker takes one contiguous batch, its share of the ids left when it becomes
    ready; otherwise batches of ``batch_size``, at most ``IN_FLIGHT_PER_WORKER`` queued per worker. Every
    saved file is passed to ``on_saved``; on the first failure the running batches stop before their next
    file, and once all have ended a :class:`SaveError` names every failed id. ``keep_on()`` is asked once
    all workers have work, and at each look at their news after (every WATCH_SECONDS at least): once it says
    no, their batches stop before their next file, and the ids left unsaved are returned."""
    if not ids:
        return Shared(None, 0.0, [])
    warm = job.pool if warm is None else warm
    if warm is not None:
        fresh = not warm.running
        pool = warm.workers_for_save()
        try:
            left = _share(pool, min(workers, pool.count), save_batch, job, ids, on_saved, batch_size, keep_on)
        except BaseException:
            warm.close()  # a failed save's workers stop, as a one-shot pool's do
            raise
        return Shared(pool.ready_after, pool.blocking_s, left) if fresh else Shared(None, 0.0, left)
    pool = Workers(min(workers, len(ids)))
    try:
        pool.start()
        left = _share(pool, pool.count, save_batch, job, ids, on_saved, batch_size, keep_on)
    finally:
        pool.close()
    return Shared(pool.ready_after, pool.blocking_s, left)


def _share(
    pool: Workers,
    workers: int,
    save_batch: SaveBatch,
    job: Job,
    ids: list[int],
    on_saved: OnSaved,
    batch_size: int | None,
    keep_on: Callable[[], bool] | None,
) -> list[int]:
    """The loop of :func:`run_batches`: the caller takes ids from the front, the workers from the back;
    returns the ids left unsaved where ``keep_on`` stopped them."""
    return _Sharing(pool, workers, save_batch, job, ids, on_saved, batch_size, keep_on).run()


class _Sharing:
    """One save shared between the caller and ``workers`` of the pool's workers (:func:`_share`)."""

    def __init__(
        self,
        pool: Workers,
        workers: int,
        save_batch: SaveBatch,
        job: Job,
        ids: list[int],
        on_saved: OnSaved,
        batch_size: int | None,
        keep_on: Callable[[], bool] | None,
    ) -> None:
        self.pool, self.save_batch, self.job, self.ids, self.on_saved = pool, save_batch, job, ids, on_saved
        self.batch_size, self.keep_on = batch_size, keep_on
        self.front, self.back = 0, len(ids)
        self.held: dict[int, list[list[int]]] = {worker: [] for worker in range(workers)}  # batches, in order
        self.taken: dict[int, int] = dict.fromkeys(self.held, 0)  # how many of them the worker has begun
        self.given: set[int] = set()  # workers that have had their batch (batch_size None)
        # Ids of batches a lost worker never began (the caller saves them), or unsaved when halted (returned
        # to the caller of run_batches).
        self.returned: list[int] = []
        self.halted = False  # whether keep_on said no: nothing more is handed out, what is left is returned
        self.reported: set[int] = set()
        self.failures: list[SaveError] = []
        self.inbox: deque[tuple[int, str, Any]] = deque()  # the workers' news read and not yet handled

    def run(self) -> list[int]:
        try:
            while (timeout := self.step()) is not None:
                raise_if_interrupted()
                self.inbox.extend(self.pool.news(timeout))
                while self.inbox:
                    self.handle(*self.inbox.popleft())
        except BaseException:  # Ctrl-C, or a progress callback that raised: the running batches stop first
            self.pool.stop_tasks()
            while True:
                while self.inbox:  # news read before: a task's end in it comes only once
                    self.handle(*self.inbox.popleft(), report=False)
                if not any(self.held.values()):
                    break
                self.inbox.extend(self.pool.news(None))
            raise
        if self.failures:
            raise SaveError.merge(self.failures)
        return [*self.ids[self.front : self.back], *self.returned]

    def step(self) -> float | None:
        """Hand out work, ask ``keep_on``, and save in the caller while it must; then how long to wait for
        the workers' news, or None once the share is over."""
        for worker in [worker for worker in sorted(self.pool.ready - self.pool.lost) if worker in self.held]:
            self.hand_out(worker)
        starting = any(worker not in self.pool.ready for worker in self.held)
        stopped = self.failures or self.halted
        if self.keep_on is not None and not (starting or stopped) and not self.keep_on():
            self.halted = True
            self.pool.stop_tasks()
        # Whether a worker may still take ids; if none, the caller saves the rest (a lost worker's share).
        takers = [worker for worker in self.held if self.batch_size is not None or worker not in self.given]
        left = self.front < self.back
        if not (self.failures or self.halted) and (self.returned or (left and (starting or not takers))):
            self.save_in_caller()
            return 0
        if any(self.held.values()) or (left and not (self.failures or self.halted)):
            return bounded.POLL_SECONDS if self.keep_on is None or self.halted else bounded.WATCH_SECONDS
        return None

    def hand_out(self, worker: int) -> None:
        """Send ``worker`` batches from the back: its one share (batch_size None), or up to
        IN_FLIGHT_PER_WORKER batches of batch_size."""
        while (
            not (self.failures or self.halted or worker in self.pool.lost)
            and self.front < self.back
            and len(self.held[worker]) < IN_FLIGHT_PER_WORKER
        ):
            if self.batch_size is None:
                if worker in self.given:
                    break
                size = math.ceil(
                    (self.back - self.front) / len([w for w in self.held if w not in self.given])
                )
                self.given.add(worker)
            else:
                size = self.batch_size
            start = max(self.front, self.back - size)
            batch, self.back = self.ids[start : self.back], start
            self.held[worker].append(batch)  # before the send: a failed send loses it with the worker
            self.pool.send(worker, run_batch, self.save_batch, self.job, batch)

    def save_in_caller(self) -> None:
        """Save returned ids, or ids from the front, until POLL_SECONDS have passed (at least one file)."""
        deadline = time.perf_counter() + POLL_SECONDS
        while self.returned or self.front < self.back:
            if self.returned:
                file_id = self.returned.pop()
            else:
                file_id, self.front = self.ids[self.front], self.front + 1
            try:
                self.on_saved(file_id, self.job.save(file_id))
            except SaveError as error:
                self.fail(error)
                break
            if time.perf_counter() >= deadline:
                break

    def fail(self, error: SaveError) -> None:
        if not self.failures:
            self.pool.stop_tasks()
        self.failures.append(error)

    def handle(self, worker: int, kind: str, payload: Any, report: bool = True) -> None:
        """One piece of a worker's news (:mod:`fileio.worker`); files saved are reported where ``report``."""
        if kind == "saved":
            self.reported.update(file_id for file_id, _ in payload)
            if report:
                for file_id, nbytes in payload:
                    self.on_saved(file_id, nbytes)
        elif worker not in self.held:
            return
        elif kind == "took":
            self.taken[worker] += 1
        elif kind in ("done", "failed"):
            self.ended(worker, kind, payload)
        elif kind == "lost":
            batches, begun = self.held.pop(worker), self.taken.pop(worker)
            self.returned.extend(file_id for batch in batches[begun:] for file_id in batch)
            unsaved = [i for batch in batches[:begun] for i in batch if i not in self.reported]
            if unsaved:
                self.fail(SaveError(unsaved, self.pool.lost_error(worker)))

    def ended(self, worker: int, kind: str, payload: Any) -> None:
        """A worker's batch ended: ``done``, or ``failed`` with the error."""
        batch = self.held[worker].pop(0)
        self.taken[worker] -= 1
        if self.halted:
            self.returned.extend(file_id for file_id in batch if file_id not in self.reported)
        if kind == "failed":
            unsaved = [file_id for file_id in batch if file_id not in self.reported]
            self.fail(payload if isinstance(payload, SaveError) else SaveError(unsaved, payload))
