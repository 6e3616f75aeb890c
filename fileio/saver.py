"""A warm pool: worker processes that stay up from one save to the next.

Starting worker processes costs from a millisecond (forked) to a tenth of a second (a fork server that first
imports fileio), which can be more than a whole save of a few thousand small files takes. A program that
saves many batches pays it once::

    with fileio.WarmPool(workers=4) as pool:
        for shard in shards:
            pool.save(directory, shard.ids, workload=shard.workload)

``pool.save`` is the ``process_batches`` strategy on the pool's workers; every strategy whose ``takes_pool``
is true (``auto`` among them) takes the pool as ``pool=``, with every guarantee of a strategy (exact bytes,
errors that name the failed ids, durability, ``skip_existing``, nothing partial after a failure or Ctrl-C).
After a save that did not finish the workers are stopped, as a one-shot pool's are, and the next save starts
fresh ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType

from fileio.checks import check_workers
from fileio.job import Pool
from fileio.report import SaveReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from fileio.pools import Workers


class WarmPool(Pool):
    """``workers`` processes that save batch after batch; use it as a context manager, which stops them. With
    ``idle_s``, each worker exits after that many seconds without a task, and the next save starts another."""

    def __init__(self, workers: int, idle_s: float | None = None) -> None:
        self.workers = check_workers(workers)
        self.idle_s = idle_s
        self._pool: Workers | None = None

    def start(self) -> None:
        """Start the worker processes now (the first save does it otherwise), or again if one has died, and
        wait until they are ready."""
        pool = self.workers_for_save()
        while len(pool.ready | pool.lost) < pool.count:
            pool.news(None)

    def workers_for_save(self) -> Workers:
        """The workers, started (again) if need be, without waiting for them: a save's caller works while
        they start."""
        from fileio.main_guard import check_main_module
        from fileio.pools import Workers
        from fileio.start import start_method

        if self._pool is not None and not self._pool.usable:
            self.close()
        if self._pool is None:
            if start_method() != "fork":  # its workers will re-import the main program
                check_main_module("WarmPool")
            self._pool = Workers(self.workers, self.idle_s)
            self._pool.start()
        return self._pool

    @property
    def running(self) -> bool:
        """Whether its workers are up, so that a save needs not start any."""
        return self._pool is not None and self._pool.usable

    def close(self) -> None:
        """Stop the worker processes, waiting for them."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.close()

    def __enter__(self) -> WarmPool:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def save(self, directory: str | os.PathLike[str], ids: Iterable[int], **options: Any) -> SaveReport:
        """``fileio.STRATEGIES["process_batches"]`` on this pool's workers: the same arguments but
        ``workers`` (``help(fileio.Strategy.__call__)``)."""
        from fileio.strategies.process_batches import STRATEGY

        return STRATEGY(directory, ids, workers=self.workers, pool=self, **options)
