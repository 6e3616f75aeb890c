"""threads: a pool of threads, each taking small tasks of a few ids at a time from a shared queue."""

from __future__ import annotations

from fileio.bounded import run_threads
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save on ``workers`` threads."""
    run_threads(job.save, ids, workers, on_saved)


STRATEGY = Strategy(
    "threads", "a pool of threads, each taking a few files at a time from a shared queue", _save
)
