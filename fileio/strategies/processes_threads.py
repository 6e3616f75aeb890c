"""processes_threads: one batch per process; each process generates files and hands their writes to its own
small thread pool, so generating the next file overlaps writing the last."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from fileio.bounded import run_tasks
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy
from fileio.worker import report_saved, stop_requested

WRITER_THREADS = 2


def _generated(job: Job, batch: list[int]) -> Iterator[tuple[int, bytes]]:
    for file_id in batch:
        if stop_requested():
            return
        yield file_id, job.generate(file_id)


def _write(job: Job, item: tuple[int, bytes]) -> int:
    return job.write(*item)


def save_batch(job: Job, batch: list[int]) -> None:
    """In a worker process: generate here, write on writer threads, with at most a few files pending."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(WRITER_THREADS, thread_name_prefix="fileio-writer") as writers:
        run_tasks(
            writers,
            partial(_write, job),
            _generated(job, batch),
            limit=WRITER_THREADS,
            on_result=lambda item, nbytes: report_saved(item[0], nbytes),
            ids_of=lambda item: [item[0]],
        )


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Give each of ``workers`` processes one batch; each writes through ``WRITER_THREADS`` threads."""
    from fileio.sharing import run_batches

    run_batches(save_batch, job, ids, workers, on_saved)


STRATEGY = Strategy(
    "processes_threads",
    "one batch per process; each process writes through its own two writer threads",
    _save,
    starts_processes=True,
    takes_pool=True,
)
