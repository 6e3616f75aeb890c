"""pipeline: worker processes generate, writer threads in the caller's process save.

Each worker process (:class:`fileio.pools.Workers`) is sent ids to generate, one a task, and sends each
file's bytes back; ``2 x workers`` writer threads in the caller write them. At most ``2 x workers`` files are
in flight: being made, waiting for a writer, or being written.
"""

from __future__ import annotations

from collections import deque

from fileio.errors import SaveError
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

    from fileio.pools import Workers


def _generate(job: Job, file_id: int) -> bytes:
    """In a worker process: one file's bytes (SaveError naming it where the workload fails)."""
    return job.generate(file_id)


class _Pipeline:
    """The caller's side: what each worker is making, what the writers are writing, and what failed."""

    def __init__(
        self, job: Job, pool: Workers, writers: Executor, ids: list[int], in_flight: int, on_saved: OnSaved
    ) -> None:
        self.job, self.pool, self.writers, self.on_saved = job, pool, writers, on_saved
        self.in_flight = in_flight
        self.todo = deque(ids)
        self.making: dict[int, deque[int]] = {}  # worker -> the ids sent to it, in order
        self.writing: dict[Future[int], int] = {}  # a writer's future -> its id
        self.failures: list[SaveError] = []

    def busy(self) -> int:
        return len(self.writing) + sum(map(len, self.making.values()))

    def hand_out(self) -> None:
        """Send ids to the ready workers, at most two each, while fewer than ``in_flight`` are in flight;
        where no worker is left to take them, the ids left fail."""
        from fileio.pools import IN_FLIGHT_PER_WORKER

        for worker in sorted(self.pool.ready - self.pool.lost):
            sent = self.making.setdefault(worker, deque())
            while self.todo and not self.failures and worker not in self.pool.lost:
                if len(sent) >= IN_FLIGHT_PER_WORKER or self.busy() >= self.in_flight:
                    break
                sent.append(file_id := self.todo.popleft())
                self.pool.send(worker, _generate, self.job, file_id)
        if self.todo and len(self.pool.lost) == self.pool.count:
            cause = self.pool.lost_error(min(self.pool.lost))
            self.failures.append(SaveError(list(self.todo), cause))
            self.todo.clear()

    def take_news(self, timeout: float) -> None:
        """Hand each file made to a writer (none once a save has failed); note failures and lost workers."""
        for worker, kind, payload in self.pool.news(timeout):
            if kind == "done":
                file_id = self.making[worker].popleft()
                if not self.failures:
                    future = self.writers.submit(self.job.write, file_id, payload)
                    self.writing[future] = file_id
            elif kind == "failed":
                file_id = self.making[worker].popleft()
                error = payload if isinstance(payload, SaveError) else SaveError([file_id], payload)
                self.failures.append(error)
            elif kind == "lost" and self.making.get(worker):
                self.failures.append(SaveError(list(self.making.pop(worker)), self.pool.lost_error(worker)))

    def take_written(self, timeout: float) -> None:
        from concurrent.futures import FIRST_COMPLETED, wait

        for future in wait(self.writing, timeout, return_when=FIRST_COMPLETED).done:
            file_id = self.writing.pop(future)
            try:
                self.on_saved(file_id, future.result())
            except SaveError as error:
                self.failures.append(error)

    def run(self) -> None:
        """Until every id is written or has failed; SaveError then names every failed id."""
        from fileio.interrupts import raise_if_interrupted
        from fileio.pools import POLL_SECONDS

        while self.writing or any(self.making.values()) or (self.todo and not self.failures):
            self.hand_out()
            self.take_news(0 if self.writing else POLL_SECONDS)
            self.take_written(POLL_SECONDS if self.writing else 0)
            raise_if_interrupted()
        if self.failures:
            raise SaveError.merge(self.failures)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Generate on ``workers`` processes while up to ``2 x workers`` threads write what they made."""
    from concurrent.futures import ThreadPoolExecutor

    from fileio.pools import Workers

    if not ids:
        return
    pool = Workers(min(workers, len(ids)))
    with ThreadPoolExecutor(2 * workers, "fileio-writer") as writers:
        try:
            pool.start()
            _Pipeline(job, pool, writers, ids, 2 * workers, on_saved).run()
        finally:
            pool.close()


STRATEGY = Strategy(
    "pipeline",
    "worker processes generate, writer threads save; at most 2 x workers files in flight",
    _save,
    starts_processes=True,
)
