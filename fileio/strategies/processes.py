"""processes: worker processes fed small tasks of a few ids each, handed out as workers free up."""

from __future__ import annotations

from fileio.bounded import task_size
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy
from fileio.worker import save_each


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save on ``workers`` processes, a task of ``task_size`` files at a time (one message per file costs
    more than a small file's write)."""
    from fileio.sharing import run_batches

    size = task_size(len(ids), workers)
    run_batches(save_each, job, ids, workers, on_saved, batch_size=size)


STRATEGY = Strategy(
    "processes",
    "a process pool; small tasks of a few files each, handed out as workers free up",
    _save,
    starts_processes=True,
    takes_pool=True,
)
