"""process_batches: the ids split into one contiguous batch per worker process."""

from __future__ import annotations

from fileio.job import Job, OnSaved
from fileio.strategy import Strategy
from fileio.worker import save_each


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Give each of ``workers`` processes one batch of ids, its share of those left when it is ready (the
    caller saves the first ones meanwhile)."""
    from fileio.sharing import run_batches

    run_batches(save_each, job, ids, workers, on_saved)


STRATEGY = Strategy(
    "process_batches",
    "ids split into one batch per worker process",
    _save,
    starts_processes=True,
    takes_pool=True,
)
