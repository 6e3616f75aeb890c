"""One save shared between the caller and worker processes (:class:`fileio.pools.Workers`): the caller saves
files from the front of the ids while its workers start, each worker takes work from the back as it becomes
ready, and the caller stops saving once all are."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from fileio import bounded
from fileio.errors import SaveError
from fileio.interrupts import raise_if_interrupted
from fileio.job import Job, OnSaved, Pool
from fileio.pools import IN_FLIGHT_PER_WORKER, POLL_SECONDS, Workers
from fileio.worker import SaveBatch, run_batch


class Shared(NamedTuple):
    """How a save was shared (:func:`run_batches`): the seconds from starting a new pool to its first ready
    worker (None on a warm pool, or where none was ready before the files ran out), of those the seconds
    starting it held the caller (forking its workers), when it could not save files, and the ids left unsaved
    where ``keep_on`` stopped the workers."""

    ready_s: float | None
    blocking_s: float
    left: list[int]


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
            count = min(workers, pool.count)
            left = Sharing(pool, count, save_batch, job, ids, on_saved, batch_size, keep_on).run()
        except BaseException:
            warm.close()  # a failed save's workers stop, as a one-shot pool's do
            raise
        return Shared(pool.ready_after, pool.blocking_s, left) if fresh else Shared(None, 0.0, left)
    pool = Workers(min(workers, len(ids)))
    try:
        pool.start()
        left = Sharing(pool, pool.count, save_batch, job, ids, on_saved, batch_size, keep_on).run()
    finally:
        pool.close()
    return Shared(pool.ready_after, pool.blocking_s, left)


class Sharing:
    """One save shared between the caller and ``workers`` of the pool's workers (:func:`run_batches`):
    :meth:`run` is its loop, the caller taking ids from the front and the workers from the back; it returns
    the ids left unsaved where ``keep_on`` stopped them."""

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
