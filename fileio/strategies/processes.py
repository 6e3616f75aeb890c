"""processes: a process pool fed small tasks of a few ids each, handed out as workers free up."""

from __future__ import annotations

from fileio.job import Job, OnSaved, Strategy
from fileio.tasks import run_batches, save_each, task_size


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save on ``workers`` processes, a task of ``task_size`` files at a time (one future per file costs more
    than a small file's write)."""
    run_batches(save_each, job, ids, workers, on_saved, batch_size=task_size(len(ids), workers))


STRATEGY = Strategy(
    "processes",
    "a process pool; small tasks of a few files each, handed out as workers free up",
    _save,
    starts_processes=True,
)
