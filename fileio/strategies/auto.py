"""auto: saves the job's first files one by one, timing how long making and writing each takes, then saves the
rest with the strategy and worker count (at most ``workers``) that the timings say is fastest on this machine.

The model, per strategy, for the ``n`` files left, with ``make`` and ``write`` seconds per file measured:

- sequential: ``n x (make + write)``;
- threads: making holds the GIL; writing releases it for the part spent in the kernel, most of it for large
  files or fsync'd ones, about a quarter for small files into the page cache (measured here: 2 threads write
  4 KiB files 1.17x faster than one): ``overhead x (n x make + n x write x (1 - p + p / t))`` with ``t``
  threads (at most the CPUs, unless writes wait on the disk: fsync) and ``p`` that parallel part;
- process_batches: all of it in parallel, after the pool has started: ``start x p + n x (make + write) / p``
  with ``p`` processes, at most the CPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from time import perf_counter

from fileio.job import Job, OnSaved, Strategy
from fileio.strategies import process_batches, sequential, threads

CALIBRATION_FILES = 4
# Starting one worker process (fork server, imports, pool hand-shake), as measured on a 2-core VM; a
# threads-to-processes decision only needs its order of magnitude.
PROCESS_START_S = 0.03
THREAD_OVERHEAD = 1.15  # what handing files to threads costs over one thread doing them, as a factor
LARGE_FILE = 64 * 1024  # from this size on, a write's time is mostly copying, outside the GIL
SMALL_WRITES_PARALLEL = 0.25


@dataclass(frozen=True)
class Choice:
    strategy: Strategy
    workers: int
    estimate_s: float


def choose(
    make_s: float, write_s: float, file_bytes: float, files: int, workers: int, durability: str, cpus: int
) -> Choice:
    """The strategy and worker count that the model (see the module's docstring) says is fastest."""
    per_file = make_s + write_s
    choices = [Choice(sequential.STRATEGY, 1, files * per_file)]
    thread_count = min(workers, files, cpus if durability == "none" else workers)
    if thread_count > 1:
        parallel = 1.0 if durability != "none" or file_bytes >= LARGE_FILE else SMALL_WRITES_PARALLEL
        write_factor = 1 - parallel + parallel / thread_count
        estimate = THREAD_OVERHEAD * files * (make_s + write_s * write_factor)
        choices.append(Choice(threads.STRATEGY, thread_count, estimate))
    process_count = min(workers, files, cpus)
    if process_count > 1:
        estimate = PROCESS_START_S * process_count + files * per_file / process_count
        choices.append(Choice(process_batches.STRATEGY, process_count, estimate))
    return min(choices, key=lambda choice: choice.estimate_s)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save the first few files here while timing them, then the rest with the strategy they point to."""
    first, rest = ids[:CALIBRATION_FILES], ids[CALIBRATION_FILES:]
    make_s = write_s = 0.0
    written = 0
    for file_id in first:
        start = perf_counter()
        data = job.generate(file_id)
        made = perf_counter()
        nbytes = job.write(file_id, data)
        make_s += made - start
        write_s += perf_counter() - made
        written += nbytes
        on_saved(file_id, nbytes)
    if rest:
        count, cpus = max(1, len(first)), os.cpu_count() or 1
        choice = choose(
            make_s / count, write_s / count, written / count, len(rest), workers, job.durability, cpus
        )
        choice.strategy.body(job, rest, choice.workers, on_saved)


STRATEGY = Strategy(
    "auto",
    "times the first files, then saves the rest with the strategy and worker count that suit this machine",
    _save,
    starts_processes=True,
)
