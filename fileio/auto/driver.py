"""``auto``'s save, a small state machine: *alone*, the caller saves and times its first files; the policy
(:mod:`fileio.auto.policy`) chooses helpers, or none; *helped*, they save the files but the last few, watched
(:class:`Watch`); *checking*, the caller saves those last few alone, so that what the helpers gave is weighed
against its pace around them (a disk's pace drifts within a save), and the figure is kept for the next save.
Helpers the watch stops leave the rest to the caller, which may choose others."""

from __future__ import annotations

import os
import sys
from itertools import pairwise
from time import perf_counter

from fileio.auto import kept
from fileio.auto.figures import Figures, Key, store
from fileio.auto.policy import Option, Tunables, choose, threads_first_guess
from fileio.bounded import run_threads, task_size
from fileio.guards import main_module_problem
from fileio.job import Job, OnSaved
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
    tunables = TUNABLES
    helpers = helper_count(workers, len(ids), job.durability, os.cpu_count() or 1)
    helpers = helpers if job.pool is None else min(helpers, job.pool.workers)
    times: list[float] = []  # seconds of each file the caller saved, in order
    if helpers < 2:
        _save_alone(job, ids, on_saved, times)
        return
    # Where no helper has a start-up to pay (kept workers, the job's pool), the choice does not hang on the
    # pace: the caller saves two files, the first for its size, before it chooses.
    instant = job.pool.running if job.pool is not None else kept.running(helpers)
    write_share, nbytes = _look(job, ids, on_saved, times, 0.0 if instant else tunables.look_s)
    left, figures = ids[len(times) :], store(tunables.memory)
    key = Key.of(job.directory, job.workload, nbytes, job.durability, helpers)
    options = _options(job, helpers, write_share, figures, tunables)
    while left and options:
        chosen = choose(options, figures.gains(key), _pace(times), len(left), tunables, _rng())
        if chosen is None:
            figures.add_save(key, "alone", 1.0)
            break
        # The check: the files the caller saves in look_s, at most 1/16 of the rest (of a gain's worth).
        check = left[len(left) - min(int(tunables.look_s / _pace(times)) + 1, len(left) // 16) :]
        span = left[: len(left) - len(check)]
        helped, unsaved = _help(job, chosen.kind, span, helpers, on_saved, _pace(times), tunables)
        if unsaved:
            figures.add_save(key, chosen.kind, helped.gain(_pace(times)))
            left, options = unsaved + check, [option for option in options if option is not chosen]
            continue
        pace = _pace_around(job, check, on_saved, times)
        if helped.seconds >= tunables.look_s:  # a span too short to time teaches nothing
            figures.add_save(key, chosen.kind, helped.gain(pace))
        return
    _save_alone(job, left, on_saved, times)


def _rng() -> random.Random:
    global _random
    if _random is None:
        import random

        _random = random.Random()
    return _random


def helper_count(workers: int, files: int, durability: str, cpus: int) -> int:
    """How many workers may help: no more than the files, nor the CPUs unless writes wait on the disk."""
    return min(workers, files, cpus if durability == "none" else workers)


def _look(
    job: Job, ids: list[int], on_saved: OnSaved, times: list[float], look_s: float
) -> tuple[float, int]:
    """Save files alone for ``look_s``, at least two, timing each in two parts; return the share of the time
    spent writing (threads do that in parallel, not the making of the bytes, which holds the GIL) and the
    first file's size."""
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
        if len(times) >= 2 and ended - began >= look_s:
            break
    return writing_s / max(last - began, 1e-9), nbytes


def _options(
    job: Job, helpers: int, write_share: float, figures: Figures, tunables: Tunables
) -> list[Option]:
    """Threads, and worker processes where they can start here: kept ones or the caller's pool start at once;
    a fork holds the caller up, a fork server's start does not; none where the main program cannot be
    re-imported."""
    threads = Option("threads", threads_first_guess(write_share, helpers, GIL_ENABLED))
    method = start_method()
    if (job.pool is not None and job.pool.running) or (job.pool is None and kept.running(helpers)):
        return [threads, Option("processes", float(helpers))]
    if job.pool is None and method != "fork" and main_module_problem("auto") is not None:
        return [threads]
    wait_s = 0.0 if "fileio.pools" in sys.modules else figures.start_s("import")
    kind = start_kind(method)
    if kind == "fork":
        return [threads, Option("processes", float(helpers), wait_s + figures.start_s(kind))]
    return [threads, Option("processes", float(helpers), wait_s, figures.start_s(kind))]


class Helped:
    """What helpers did once ready: they saved ``files`` files in ``seconds``."""

    def __init__(self, files: float, seconds: float, helpers: int) -> None:
        self.files, self.seconds, self.helpers = files, seconds, helpers

    def gain(self, pace: float) -> float:
        """How many times faster than the caller alone, at ``pace`` seconds a file, they saved: at most as
        many times as there are helpers (a higher reading comes from a slow pace of first files); 1 where
        they had no time."""
        if self.seconds <= 0:
            return 1.0
        return min(max(0.0, self.files) * pace / self.seconds, float(self.helpers))


class Watch:
    """The early-stop rule: counts the files helpers save from when they all have work, and keeps them on
    until ``watch_s`` has passed, then as long as they (counting ``in_flight`` files saved and not yet
    reported) are ahead of what the caller alone would have saved at ``pace``."""

    def __init__(self, on_saved: OnSaved, pace: float, helpers: int, in_flight: int, watch_s: float) -> None:
        self.on_saved, self.pace, self.in_flight, self.watch_s = on_saved, pace, in_flight, watch_s
        self.files, self.counted, self.since = 0, 0, 0.0
        self.span = Helped(0, 0.0, helpers)  # what they had saved when last asked

    def saved(self, file_id: int, nbytes: int) -> None:
        self.files += 1
        self.on_saved(file_id, nbytes)

    def keep_on(self) -> bool:
        now = perf_counter()
        if not self.since:
            self.since, self.counted = now, self.files
            return True
        self.span = Helped(self.files - self.counted, now - self.since, self.span.helpers)
        ahead = (self.span.files + self.in_flight) * self.pace >= self.span.seconds
        return self.span.seconds < self.watch_s or ahead


def _help(
    job: Job, kind: str, ids: list[int], helpers: int, on_saved: OnSaved, pace: float, tunables: Tunables
) -> tuple[Helped, list[int]]:
    """Save ``ids`` with ``helpers`` helpers of ``kind``, watched; return what they did once started, and the
    ids left unsaved where the watch stopped them. What starting them took is kept apart, as a start-up."""
    figures = store(tunables.memory)
    size = task_size(len(ids), helpers)
    watch = Watch(on_saved, pace, helpers, helpers * (1 if kind == "threads" else min(size, REPORT_FILES)),
                  tunables.watch_s)  # fmt: skip
    began = perf_counter()
    import_s = ready_s = blocking_s = 0.0
    if kind == "threads":
        unsaved = run_threads(job.save, ids, helpers, watch.saved, watch.keep_on)
    else:
        loaded = "fileio.pools" in sys.modules
        from fileio.pools import run_batches

        if not loaded:
            import_s = perf_counter() - began
            figures.add_start("import", import_s)
        start = start_kind(start_method())
        with kept.taken(helpers, tunables.keep_idle_s if job.pool is None else 0) as warm:  # else the job's
            shared = run_batches(save_each, job, ids, helpers, watch.saved, size, watch.keep_on, warm)
        if shared.ready_s is not None:
            ready_s, blocking_s = shared.ready_s, shared.blocking_s
            figures.add_start(start, ready_s)
        unsaved = shared.left
    if unsaved:
        return watch.span, unsaved
    # Until the workers were ready the caller saved at its own pace, but while it forked them.
    helped_files = len(ids) - (ready_s - blocking_s) / pace
    return Helped(helped_files, perf_counter() - began - import_s - ready_s, helpers), []


def _median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def _pace(times: list[float]) -> float:
    """The caller's seconds per file: the median of its files but the first (which pays first touches)."""
    return _median(times[1:] or times)


def _pace_around(job: Job, ids: list[int], on_saved: OnSaved, times: list[float]) -> float:
    """The caller's pace on ``ids``, which it saves alone after the helpers (its pace before them where there
    are none): a process's first files are slower, a disk's pace drifts within a save."""
    checked_from = len(times)
    _save_alone(job, ids, on_saved, times)
    return _median(times[checked_from:]) if ids else _pace(times)


def _save_alone(job: Job, ids: list[int], on_saved: OnSaved, times: list[float]) -> None:
    """Save ``ids`` in the caller, timing each (one clock read a file)."""
    ends = [perf_counter()]
    for file_id in ids:
        on_saved(file_id, job.save(file_id))
        ends.append(perf_counter())
    times.extend(later - earlier for earlier, later in pairwise(ends))
