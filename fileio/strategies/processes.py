"""processes: a process pool; one task generates and writes one file."""

from __future__ import annotations

from fileio.job import Job, OnSaved, Strategy
from fileio.tasks import process_pool, run_tasks


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save each file as one task on a pool of ``workers`` processes."""
    with process_pool(workers) as pool:
        run_tasks(pool, job.save, ids, limit=2 * workers, on_result=on_saved)


STRATEGY = Strategy(
    "processes", "a process pool; one task generates and writes one file", _save, starts_processes=True
)
