"""auto: saves files in the caller's thread from the first id on, timing them, and brings in worker processes
as soon as the files left would take longer than those workers take to start on this machine; workers and
caller then share the rest (:func:`fileio.pools.run_batches`: the caller keeps saving until they are ready).

What it weighs, all measured here: the seconds per file so far, in this save (making the bytes and writing
them, on this filesystem, in this process, warm or not), revised after every file; and the seconds a pool of
the start method it would use takes to get a worker ready (:func:`fileio.pools.expected_start`: the last
starts on this machine; none when the caller gave a running :class:`fileio.WarmPool`). A save that is over
before workers would pay for themselves stays in the caller: ``sequential``, with no start-up at all.

Workers are processes, which run both the making and the writing in parallel; ``min(workers, CPUs)`` of them,
or ``workers`` when each file is fsync'd (the writes then wait on the disk, not a CPU). Where processes could
not start safely (a fork server would re-import a main program without its ``__main__`` guard) the rest goes
to ``workers`` threads instead.
"""

from __future__ import annotations

import os
from time import perf_counter

from fileio.bounded import run_threads, task_size
from fileio.guards import main_module_problem
from fileio.job import Job, OnSaved, Strategy
from fileio.worker import save_each

# Workers are started once the files left would take this many times their start-up: time enough for them to
# take a share worth having (the caller saves files meanwhile, so starting them too early costs only a fork).
START_MARGIN = 2.0


def worth_starting(seconds_per_file: float, files_left: int, start_s: float) -> bool:
    """Whether workers that take ``start_s`` to start would pay for themselves on the files left."""
    return seconds_per_file * files_left > START_MARGIN * start_s


def helper_count(workers: int, files: int, durability: str, cpus: int) -> int:
    """How many workers may help: no more than the files, nor the CPUs unless writes wait on the disk."""
    return min(workers, files, cpus if durability == "none" else workers)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save in this thread until the files left warrant workers, then share them with workers."""
    from fileio.pools import expected_start, start_kind, start_method

    helpers = helper_count(workers, len(ids), job.durability, os.cpu_count() or 1)
    if job.pool is not None:
        helpers = min(helpers, job.pool.workers)
    running = job.pool is not None and job.pool.running
    start_s = 0.0 if running else expected_start(start_kind(start_method()))
    done, began = 0, perf_counter()
    for file_id in ids:
        on_saved(file_id, job.save(file_id))
        done += 1
        if helpers > 1 and worth_starting((perf_counter() - began) / done, len(ids) - done, start_s):
            break
    rest = ids[done:]
    if not rest:
        return
    if job.pool is None and start_method() != "fork" and main_module_problem("auto") is not None:
        run_threads(job.save, rest, helpers, on_saved)
        return
    from fileio.pools import run_batches

    run_batches(
        save_each, job, rest, helpers, on_saved, batch_size=task_size(len(rest), helpers), strategy="auto"
    )


STRATEGY = Strategy(
    "auto",
    "saves in the caller from the start, timing the files; worker processes join once the rest warrants them",
    _save,
    starts_processes=True,
    takes_pool=True,
    optional_processes=True,
)
