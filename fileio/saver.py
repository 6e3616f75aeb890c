"""A warm pool: ``process_batches`` whose worker processes stay up from one save to the next.

Starting a pool of worker processes costs tens of milliseconds, which is more than a whole save of a few
thousand small files takes on fast storage. A program that saves many batches pays it once::

    with fileio.WarmPool(workers=4) as pool:
        for shard in shards:
            pool.save(directory, shard.ids, workload=shard.workload)

Each save is the ``process_batches`` strategy with every guarantee of a strategy (exact bytes, errors that
name the failed ids, durability, ``skip_existing``, nothing partial after a failure or Ctrl-C). After a save
that did not finish the workers are stopped, as a one-shot pool's are, and the next save starts fresh ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType

from fileio.guards import check_main_module
from fileio.job import DEFAULT_WORKLOAD, Job, OnSaved, Progress, SaveReport, Strategy, check_workers
from fileio.tasks import Channel, WorkerPool, process_pool, run_batches, save_each
from fileio.workloads import Workload


class WarmPool:
    """``workers`` processes that save batch after batch; use it as a context manager, which stops them."""

    def __init__(self, workers: int) -> None:
        self.workers = check_workers(workers)
        self._pool: WorkerPool | None = None
        self._strategy = Strategy(
            "process_batches", "process_batches on a warm pool", self._save_batches, starts_processes=True
        )

    def start(self) -> None:
        """Start the worker processes now (the first save does it otherwise), or again if one has died."""
        if self._pool is not None and self._pool.lost_a_worker:
            self.close()
        if self._pool is None:
            check_main_module("WarmPool")
            self._pool = process_pool(self.workers, Channel())  # a new Channel: the old one may say stop
            for started in [self._pool.submit(os.getpid) for _ in range(self.workers)]:
                started.result()

    def close(self) -> None:
        """Stop the worker processes, waiting for them."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> WarmPool:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def save(
        self,
        directory: str | os.PathLike[str],
        ids: Iterable[int],
        *,
        workload: Workload = DEFAULT_WORKLOAD,
        durability: str = "none",
        progress: Progress | None = None,
        skip_existing: bool = False,
    ) -> SaveReport:
        """Save as ``fileio.STRATEGIES["process_batches"]`` does (``help(fileio.Strategy.__call__)``), with
        this pool's workers."""
        return self._strategy(
            directory,
            ids,
            workers=self.workers,
            workload=workload,
            durability=durability,
            progress=progress,
            skip_existing=skip_existing,
        )

    def _save_batches(self, job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
        self.start()
        assert self._pool is not None
        try:
            run_batches(save_each, job, ids, workers, on_saved, pool=self._pool)
        except BaseException:
            self.close()  # waits for running batches, which stop early: nothing is written after we return
            raise
