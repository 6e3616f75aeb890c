"""``auto``'s save, a small state machine (``docs/auto.md``): *alone*, the caller saves its first two files;
the policy chooses helpers, or none; *helped*, they save all but the last few, watched (:class:`Watch`);
*checking*, the caller saves those alone, to time its own pace. What the choice gave is kept for the next."""

from __future__ import annotations

import functools
import os
import sys
from time import perf_counter

from fileio.auto import kept
from fileio.auto.figures import Key, store
from fileio.auto.policy import START_S, Tunables, choose, processes_first_guess, threads_first_guess
from fileio.bounded import run_threads
from fileio.job import Job, OnSaved
from fileio.main_guard import main_module_problem
from fileio.start import start_kind, start_method
from fileio.worker import REPORT_SECONDS, save_each

TUNABLES = Tunables()
GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()  # False on a free-threaded build
TYPE_CHECKING = False
if TYPE_CHECKING:
    import random


def save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save ``ids``: alone, helped, checking, by the settings in TUNABLES. A save that fails, in the
    workers or in the caller, stops the workers kept (where no other save is using them)."""
    helpers = helper_count(workers, len(ids), job.durability, os.cpu_count() or 1)
    helpers = helpers if job.pool is None else min(helpers, job.pool.workers)
    try:
        if helpers > 1 and len(ids) > 2:
            times, write_share, nbytes = _alone(job, ids[:2], on_saved)
            ids, pace = ids[2:], times[1]  # the first file pays for first touches
            key = Key.of(job.directory, job.workload, nbytes // 2, len(ids), job.durability, helpers)
            guesses = _first_guesses(job, helpers, write_share, pace * len(ids))
            ids = _choose_and_help(job, ids, helpers, on_saved, pace, key, guesses)
        for file_id in ids:
            on_saved(file_id, job.save(file_id))
    except BaseException:
        kept.close_unless_taken()
        raise


def helper_count(workers: int, files: int, durability: str, cpus: int) -> int:
    """How many workers may help: no more than the files, nor the CPUs unless writes wait on the disk."""
    return min(workers, files, cpus if durability == "none" else workers)


def _choose_and_help(
    job: Job,
    left: list[int],
    helpers: int,
    on_saved: OnSaved,
    pace: float,
    key: Key,
    guesses: dict[str, float],
) -> list[int]:
    """Helped and checked, as the policy chooses; the ids left to the caller alone. Where the watch stops
    helpers, their loss is kept and the policy chooses again among the others."""
    figures = store(TUNABLES.memory)
    while chosen := choose(guesses, figures.gains(key), TUNABLES, _rng()):
        decided = perf_counter()
        check = left[len(left) - min(int(TUNABLES.check_s / pace) + 1, len(left) // 16) :]
        watch, unsaved = _help(job, chosen, left[: len(left) - len(check)], helpers, on_saved, pace)
        if unsaved:
            figures.add(key, chosen, watch.gain())
            left = unsaved + check
            del guesses[chosen]
            continue
        checked = sorted(_alone(job, check, on_saved)[0])
        # The caller's pace alone: the faster of its second file's and the check's (docs/auto.md).
        after = min(pace, checked[len(checked) // 2]) if checked else pace
        seconds = perf_counter() - decided
        if seconds >= TUNABLES.check_s:  # a save too short to time teaches nothing
            figures.add(key, chosen, min(len(left) * after / seconds, float(helpers)))
        return []
    if guesses:  # the policy chose the caller alone
        figures.add(key, "alone", 1.0)
    return left


@functools.cache
def _rng() -> random.Random:
    """The policy's randomness, seeded by the OS, made at the first choice (``random`` is an import)."""
    import random

    return random.Random()


def _alone(job: Job, ids: list[int], on_saved: OnSaved) -> tuple[list[float], float, int]:
    """Save ``ids`` in the caller, timing each file in two parts: each file's seconds, the share of them spent
    writing (threads do that in parallel, not the making of the bytes, which holds the GIL), the bytes."""
    times, writing_s, nbytes, last = [], 0.0, 0, perf_counter()
    for file_id in ids:
        data = job.generate(file_id)
        made = perf_counter()
        written = job.write(file_id, data)
        ended = perf_counter()
        on_saved(file_id, written)
        times.append(ended - last)
        writing_s, nbytes, last = writing_s + ended - made, nbytes + written, ended
    return times, writing_s / max(sum(times), 1e-9), nbytes


def _first_guesses(job: Job, helpers: int, write_share: float, alone_s: float) -> dict[str, float]:
    """Each option's first guess: threads; and worker processes where they can start here, running ones
    (kept, or the caller's pool) or new ones, which pay their start against ``alone_s``, the caller's time
    alone; none where the main program cannot be re-imported."""
    guesses = {"threads": threads_first_guess(write_share, helpers, GIL_ENABLED)}
    if job.pool.running if job.pool is not None else kept.running(helpers):
        return {**guesses, "running processes": float(helpers)}
    method = start_method()
    if job.pool is None and method != "fork" and main_module_problem("auto") is not None:
        return guesses
    start_s = START_S[start_kind(method)] + (0 if "fileio.sharing" in sys.modules else START_S["import"])
    return {**guesses, "processes": processes_first_guess(start_s, alone_s, helpers)}


class Watch:
    """The early-stop rule: counts the files helpers save from when they all have work, and keeps them on
    until ``watch_s`` has passed, then as long as they (counting ``in_flight_s``, the work at the caller's
    pace they may hold saved and not yet reported) are ahead of what the caller alone would have saved at
    ``pace``. ``span_files`` and ``span_s``: what they did from then to the last time it was asked."""

    def __init__(
        self, on_saved: OnSaved, pace: float, helpers: int, in_flight_s: float, watch_s: float
    ) -> None:
        self.on_saved, self.pace, self.helpers, self.in_flight_s = on_saved, pace, helpers, in_flight_s
        self.watch_s, self.files, self.counted, self.since, self.span_files, self.span_s = (
            watch_s,
            0,
            0,
            0.0,
            0,
            0.0,
        )

    def saved(self, file_id: int, nbytes: int) -> None:
        self.files += 1
        self.on_saved(file_id, nbytes)

    def keep_on(self) -> bool:
        now = perf_counter()
        if not self.since:
            self.since, self.counted = now, self.files
            return True
        self.span_files, self.span_s = self.files - self.counted, now - self.since
        ahead = self.span_files * self.pace + self.in_flight_s >= self.span_s
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
    """Save ``ids`` with ``helpers`` helpers of ``kind``, watched; return the watch and the ids left unsaved
    where it stopped them. Worker processes take one batch each, as process_batches (docs/auto.md)."""
    # A thread reports each file; a worker process every REPORT_SECONDS, and the file it is on.
    in_flight_s = helpers * (pace if kind == "threads" else REPORT_SECONDS + pace)
    watch = Watch(on_saved, pace, helpers, in_flight_s, TUNABLES.watch_s)
    if kind == "threads":
        return watch, run_threads(job.save, ids, helpers, watch.saved, watch.keep_on)
    from fileio.sharing import run_batches

    with kept.taken(helpers, TUNABLES.keep_idle_s if job.pool is None else 0) as warm:  # else the job's
        return watch, run_batches(save_each, job, ids, helpers, watch.saved, None, watch.keep_on, warm).left
