"""threads: a thread pool; one task generates and writes one file."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fileio.job import Job, OnSaved, Strategy
from fileio.tasks import run_tasks


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save each file as one task on a pool of ``workers`` threads."""
    with ThreadPoolExecutor(workers, thread_name_prefix="fileio") as pool:
        run_tasks(pool, job.save, ids, limit=2 * workers, on_result=on_saved)


STRATEGY = Strategy("threads", "a thread pool; one task generates and writes one file", _save)
