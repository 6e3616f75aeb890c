"""sequential: one file after another in the caller's thread; the baseline for every speed-up."""

from __future__ import annotations

from fileio.job import Job, OnSaved
from fileio.strategy import Strategy


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save one file after another; ``workers`` is accepted and ignored."""
    for file_id in ids:
        on_saved(file_id, job.save(file_id))


STRATEGY = Strategy("sequential", "one file after another", _save)
