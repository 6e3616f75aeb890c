"""process_batches: the ids split into one contiguous batch per worker process."""

from __future__ import annotations

from fileio.job import Job, OnSaved, Strategy
from fileio.tasks import report_saved, run_batches, stop_requested


def save_batch(job: Job, batch: list[int]) -> None:
    """In a worker process: save a batch one file after another, reporting each, until told to stop."""
    for file_id in batch:
        if stop_requested():
            return
        report_saved(file_id, job.save(file_id))


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Give each of ``workers`` processes one batch of ids."""
    run_batches(save_batch, job, ids, workers, on_saved)


STRATEGY = Strategy(
    "process_batches", "ids split into one batch per worker process", _save, starts_processes=True
)
