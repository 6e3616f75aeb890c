"""``auto``'s save, a small state machine: *alone*, the caller saves its first two files (the first for its
size); the policy (:mod:`fileio.auto.policy`) chooses helpers, or none; *helped*, they save the files but the
last few, watched (:class:`Watch`); *checking*, the caller saves those last few alone, to time its own pace.
What the choice gave, start-up included, is kept for the next save: the files from the choice on, at the
caller's pace, over the seconds they took. Helpers the watch stops leave the rest to the caller, which may
choose others."""

from __future__ import annotations

import os
import sys
from itertools import pairwise
from time import perf_counter

from fileio.auto import kept
from fileio.auto.figures import Key, store
from fileio.auto.policy import Option, Tunables, choose, threads_first_guess
from fileio.bounded import run_threads
from fileio.job import Job, OnSaved
from fileio.main_guard import main_module_problem
from fileio.start import start_kind, start_method
from fileio.worker import REPORT_FILES, save_each

TUNABLES = Tunables()
GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()  # False on a free-threaded build
TYPE_CHECKING = False
if TYPE_CHECKING:
    import random

_random: random.Random | None = None  # seeded by the OS, made at the first choice (an import)


def save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save ``ids``: alone, helped, checking (see the module's docstring), by the settings in TUNABLES."""
    helpers = helper_count(workers, len(ids), job.durability, os.cpu_count() or 1)
    helpers = helpers if job.pool is None else min(helpers, job.pool.workers)
    times: list[float] = []  # seconds of each file the caller saved alone, in order
    left = ids
    if helpers > 1 and len(ids) > 2:
        write_share, nbytes = _look(job, ids[:2], on_saved, times)
        left = ids[2:]
        key = Key.of(job.directory, job.workload, nbytes, len(left), job.durability, helpers)
        options = _options(job, helpers, write_share, _pace(times) * len(left))
        left = _choose_and_help(job, left, helpers, on_saved, times, key, options)
    _save_alone(job, left, on_saved, times)


def _choose_and_help(
    job: Job,
    left: list[int],
    helpers: int,
    on_saved: OnSaved,
    times: list[float],
    key: Key,
    options: list[Option],
) -> list[int]:
    """Helped and checked, as the policy chooses; the ids left to the caller alone. Where the watch stops
    helpers, their loss is kept and the policy chooses again among the others."""
    tunables = TUNABLES
    figures = store(tunables.memory)
    while options:
        chosen = choose(options, figures.gains(key), tunables, _rng())
        if chosen is None:
            figures.add_save(key, "alone", 1.0)
            return left
        decided, pace = perf_counter(), _pace(times)
        check = left[len(left) - min(int(tunables.check_s / pace) + 1, len(left) // 16) :]
        watch, unsaved = _help(job, chosen.kind, left[: len(left) - len(check)], helpers, on_saved, pace)
        if unsaved:
            figures.add_save(key, chosen.kind, watch.gain())
            left, options = unsaved + check, [option for option in options if option is not chosen]
            continue
        # The caller's pace alone: the faster of its second file's and the check's. Each runs slow where the
        # other does not: a process's first files pay for first touches, files right after helpers for the
        # caches those filled (docs/auto.md).
        after = min(pace, _save_alone(job, check, on_saved, times) or pace)
        seconds = perf_counter() - decided
        if seconds >= tunables.check_s:  # a save too short to time teaches nothing
            figures.add_save(key, chosen.kind, min(len(left) * after / seconds, float(helpers)))
        return []
    return left


def _rng() -> random.Random:
    global _random
    if _random is None:
        import random

        _random = random.Random()
    return _random


def helper_count(workers: int, files: int, durability: str, cpus: int) -> int:
    """How many workers may help: no more than the files, nor the CPUs unless writes wait on the disk."""
    return min(workers, files, cpus if durability == "none" else workers)


def _look(job: Job, ids: list[int], on_saved: OnSaved, times: list[float]) -> tuple[float, int]:
    """Save ``ids`` alone, timing each in two parts; return the share of the time spent writing (threads do
    that in parallel, not the making of the bytes, which holds the GIL) and the first one's size."""
    writing_s, nbytes = 0.0, 0
    began = last = perf_counter()
    for file_id in ids:
        data = job.generate(file_id)
        made = perf_counter()
        written = job.write(file_id, data)
        ended = perf_counter()
        on_saved(file_id, written)
        nbytes = nbytes or written
        times.append(ended - last)
        writing_s, last = writing_s + ended - made, ended
    return writing_s / max(last - began, 1e-9), nbytes


def _options(job: Job, helpers: int, write_share: float, alone_s: float) -> list[Option]:
    """Threads; and worker processes where they can start here: running ones (kept, or the caller's pool),
    or new ones, whose first guess counts what starting them cost the last saves against ``alone_s``, the
    seconds the caller alone would take; none where the main program cannot be re-imported."""
    threads = Option("threads", threads_first_guess(write_share, helpers, GIL_ENABLED))
    if (job.pool is not None and job.pool.running) or (job.pool is None and kept.running(helpers)):
        return [threads, Option("running processes", float(helpers))]
    method = start_method()
    if job.pool is None and method != "fork" and main_module_problem("auto") is not None:
        return [threads]
    figures = store(TUNABLES.memory)
    start_s = figures.start_s(start_kind(method)) + (
        0 if "fileio.sharing" in sys.modules else figures.start_s("import")
    )
    return [threads, Option("processes", 1 / (start_s / max(alone_s, 1e-9) + 1 / helpers))]


class Watch:
    """The early-stop rule: counts the files helpers save from when they all have work, and keeps them on
    until ``watch_s`` has passed, then as long as they (counting ``in_flight`` files saved and not yet
    reported) are ahead of what the caller alone would have saved at ``pace``. ``span_files`` and
    ``span_s``: what they did from then to the last time it was asked."""

    def __init__(self, on_saved: OnSaved, pace: float, helpers: int, in_flight: int, watch_s: float) -> None:
        self.on_saved, self.pace, self.helpers, self.in_flight = on_saved, pace, helpers, in_flight
        self.watch_s, self.files, self.counted, self.since = watch_s, 0, 0, 0.0
        self.span_files, self.span_s = 0, 0.0

    def saved(self, file_id: int, nbytes: int) -> None:
        self.files += 1
        self.on_saved(file_id, nbytes)

    def keep_on(self) -> bool:
        now = perf_counter()
        if not self.since:
            self.since, self.counted = now, self.files
            return True
        self.span_files, self.span_s = self.files - self.counted, now - self.since
        ahead = (self.span_files + self.in_flight) * self.pace >= self.span_s
        return self.span_s < self.watch_s or ahead

    def gain(self) -> float:
        """How many times faster than the caller alone the helpers saved over the span (at most as many
        times as there are helpers); 1 where they had no time."""
        if self.span_s <= 0:
            return 1.0
        return min(self.span_files * self.pace / self.span_s, float(self.helpers))


def _help(
    job: Job, kind: str, ids: list[int], helpers: int, on_saved: OnSaved, pace: float
) -> tuple[Watch, list[int]]:
    """Save ``ids`` with ``helpers`` helpers of ``kind``, watched; return the watch (what they did once all
    had work) and the ids left unsaved where it stopped them. What starting new workers cost (the wait for
    all to have work, less the caller's files meanwhile) is kept, for the next first guess."""
    tunables = TUNABLES
    in_flight = helpers * (1 if kind == "threads" else REPORT_FILES)
    watch = Watch(on_saved, pace, helpers, in_flight, tunables.watch_s)
    if kind == "threads":
        unsaved = run_threads(job.save, ids, helpers, watch.saved, watch.keep_on)
        return watch, unsaved
    began, loaded = perf_counter(), "fileio.sharing" in sys.modules
    from fileio.sharing import run_batches

    import_s = 0.0 if loaded else perf_counter() - began
    start = start_kind(start_method())
    with kept.taken(helpers, tunables.keep_idle_s if job.pool is None else 0) as warm:  # else the job's
        pool = warm if warm is not None else job.pool
        fresh = pool is None or not pool.running
        # One batch a worker, as process_batches: a task costs the caller messages, and where the workers
        # fill the CPUs, their time (docs/auto.md).
        unsaved = run_batches(save_each, job, ids, helpers, watch.saved, None, watch.keep_on, warm).left
    figures = store(tunables.memory)
    if not loaded:
        figures.add_start("import", import_s)
    if fresh and watch.since:
        figures.add_start(start, max(0.0, watch.since - began - import_s - watch.counted * pace))
    return watch, unsaved


def _pace(times: list[float]) -> float:
    """The caller's seconds per file: the median of its files after the first (which pays for first
    touches)."""
    timed = sorted(times[1:] or times)
    return timed[len(timed) // 2]


def _save_alone(job: Job, ids: list[int], on_saved: OnSaved, times: list[float]) -> float | None:
    """Save ``ids`` in the caller, timing each (one clock read a file); their median seconds, None for
    none."""
    ends = [perf_counter()]
    for file_id in ids:
        on_saved(file_id, job.save(file_id))
        ends.append(perf_counter())
    timed = [later - earlier for earlier, later in pairwise(ends)]
    times.extend(timed)
    return sorted(timed)[len(timed) // 2] if timed else None
