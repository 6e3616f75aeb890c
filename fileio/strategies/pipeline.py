"""pipeline: worker processes generate, writer threads in the caller's process save.

Each of ``2 x workers`` writer threads carries one file at a time from a generating process to disk, so the
number of threads is the bounded queue: at most that many files' data are in flight.
"""

from __future__ import annotations

from functools import partial

from fileio.job import Job, OnSaved, Strategy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Executor


def _generate_and_write(job: Job, generators: Executor, file_id: int) -> int:
    data = generators.submit(job.generate, file_id).result()
    return job.write(file_id, data)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Generate on ``workers`` processes while up to ``2 x workers`` threads write what they made."""
    from concurrent.futures import ThreadPoolExecutor

    from fileio.bounded import run_tasks
    from fileio.executor import WorkerPool

    in_flight = 2 * workers
    with WorkerPool(workers) as generators, ThreadPoolExecutor(in_flight, "fileio-writer") as writers:
        run_tasks(
            writers,
            partial(_generate_and_write, job, generators),
            ids,
            limit=in_flight,
            on_result=on_saved,
        )


STRATEGY = Strategy(
    "pipeline",
    "worker processes generate, writer threads save; at most 2 x workers files in flight",
    _save,
    starts_processes=True,
)
