"""auto: saves files in the caller's thread from the first id on, timing each, and brings in helpers (threads,
or worker processes) as soon as what they would save on the files left outweighs what they take to start.
Worker processes then share the rest with the caller (:func:`fileio.pools.run_batches`: the caller keeps
saving until they are ready).

What it weighs, all measured on this machine (:mod:`fileio.costs`):

- the seconds per file so far, in this save (making the bytes and writing them, on this filesystem, in this
  process, warm or not): the median of the last files saved, revised as the save goes on;
- what helpers take to start: for processes, the seconds a pool takes to get a worker ready by how it would
  start (forked, a fork server, one already running), plus loading the multiprocessing machinery if this
  process has not yet; none with a running :class:`fileio.WarmPool`;
- how many times faster than the caller alone each kind of helper saved the files it was given once started
  (their start-up, and the files the caller saved meanwhile, are weighed apart; at most as many times as there
  are helpers), against the caller's pace before them and on the last few files, which it saves alone after
  them (a disk's pace can drift within a save), the last times, on this filesystem, for this kind of workload
  and files of this size and durability (in one directory, parallel writers may gain little: they share its
  lock). Every save with helpers measures it again; the median of the last five and a first guess counts: for
  processes, as many times as there are of them; for threads, the writes in parallel and the making of the
  bytes (which holds the GIL) one at a time, by the shares this save timed. One unlucky measurement (a file or
  two timed alone, on a busy machine) cannot then stop helpers from being tried again; a second one, from
  another save (a save keeps one), confirming it does, until a look (one in 16, at random, half as often for
  each further figure that confirms it) weighs them on the first guess again, so that figures from a worse
  minute do not keep helpers out for good (helpers that pay, if less than others, are not retried).

Helpers chosen on a guess, or on figures older than this process, are watched as they save (not where this
process's last save with them found them paying: threads then come in after the first file). Where they fall
behind the caller alone (small files, whose every write hands the GIL over, or contend for a directory's lock;
far behind, even before they are first weighed), they are stopped before their next file, and the caller saves
a few files alone to weigh them against its pace then too: where they lost, it takes the rest back, so that a
wrong guess costs a save tens of milliseconds, not the rest of it. It may yet choose the other kind; the loss
is what the next save weighs.
A save that helpers cannot speed up, or that is over before they would pay for themselves, stays in the
caller: ``sequential``, with no start-up at all. There are ``min(workers, CPUs)`` helpers, or ``workers``
when each file is fsync'd (the writes then wait on the disk, not a CPU). Where worker processes could not
start safely (a fork server would re-import a main program without its ``__main__`` guard), only threads are
weighed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from itertools import pairwise
from time import perf_counter

from fileio import costs
from fileio.bounded import run_threads, task_size
from fileio.guards import main_module_problem
from fileio.job import Job, OnSaved, Strategy
from fileio.worker import REPORT_FILES, save_each

# Helpers are brought in once what they would save is this many times what starting them costs the save:
# enough for a wrong guess to cost little (the caller saves files while processes start, so one that does not
# pay costs a fork).
# Options are ranked the same way, start-up counted START_MARGIN times: it is paid for sure, where the gain
# is a noisy figure (in a fresh process at 256 KiB, threads and processes read 0.8-2.4x, and processes, with
# 40 ms to start, won the ranking on such a reading in 4 saves of 20, each slower than threads by a third).
START_MARGIN = 2.0
# When to look first: after FIRST_FILES files that took FIRST_FILES_S, or after FIRST_LOOK_S of saving, even
# one file: the first pays for first touches, several times a later small file, but little beside a file that
# long (a CSV file takes ~8 ms), and the workers a look brings in start that much sooner; after the first file
# alone where threads paid in this process's last save of such files (at 256 KiB, 7 files saved alone cost a
# save ~3 %). Small files' first ones are slow for longer: on a tmpfs, in a fresh process, 4 KiB files took
# 6.5 us each at the eighth and 4.7 us from the hundredth, and helpers weighed against that pace read 1.1x
# where they lost at 0.4-0.8x. The seconds per file are the median of the last WINDOW files but the first (the
# first alone, before a second). Later looks come after every LOOK_GROWTH times as many files: few, and cheap.
FIRST_FILES, FIRST_FILES_S, FIRST_LOOK_S, WINDOW, LOOK_GROWTH = 8, 0.001, 0.005, 32, 1.5
EXPLORE_SHARE = 0.25
# After helpers, the caller saves the last CHECK_FILES files alone, to weigh what the helpers gave against its
# pace then as well as before (:func:`_pace_around`); fewer where they would take it over CHECK_SECONDS or be
# over 1/CHECK_SHARE of the files left. Each file the caller saves alone, not helped, costs the save a share
# of (gain - 1) / files: 1 % at 8 of 128 x 64 KiB (threads, 1.2x); a CSV file (8 ms) gets no check, where one
# of 24 would cost 3 % (processes, 1.7x).
CHECK_FILES, CHECK_SECONDS, CHECK_SHARE = 8, 0.004, 16
# A speed-up is learned only from a span long enough to time: so many files per worker, so many seconds.
LEARN_FILES_PER_WORKER, LEARN_SECONDS = 8, 0.002
# Watched helpers are first weighed once they have had WATCH_SECONDS, and as long as the caller would take to
# save so many files a helper; before that, only where they are WATCH_LOSS_S behind the caller alone and
# slower together than one of them would be at the caller's pace.
WATCH_SECONDS, WATCH_FILES_PER_HELPER, WATCH_LOSS_S = 0.02, 8, 0.004
# Figures that keep helpers out (a gain of 1 or less) are measured again only where helpers are tried: at
# RETRY_SHARE of the looks, such helpers are weighed on their first guess instead, as if untried, and half as
# often for each further figure that keeps them out (each retry that confirms the loss adds one: at 4 KiB on
# ext4, where helpers read 0.4-0.85x, a retry made a script run once up to 1.5x as slow). Without it,
# two low figures (read on a busy machine, or under a profiler) kept threads out for good: seen here, where
# threads saved 256 KiB files 1.2x faster on a tmpfs, auto saved like sequential in every save after. A retry
# where helpers do lose costs a save a pool's start and a watched span (Watch); at random, for a script
# run once too. Helpers that pay but less than others are not retried: at 64 KiB atomic on ext4, each save
# that tried processes again (0.5-1.3x) where threads paid 1.2-1.3x was up to 30 % slower.
RETRY_SHARE = 1 / 16


class Helpers:
    """A way to bring in help: ``threads`` or ``processes``, what it takes to start, and how many times faster
    than the caller alone it saves once started."""

    __slots__ = ("kind", "wait_s", "ready_s", "gain", "measured")

    def __init__(self, kind: str, wait_s: float, ready_s: float, gain: float, measured: bool) -> None:
        self.kind, self.gain = kind, gain
        self.wait_s = wait_s  # start-up the caller waits through: threads, loading pools, forking workers
        self.ready_s = ready_s  # from starting processes to a first ready one: the caller saves on meanwhile
        self.measured = measured  # whether ``gain`` was measured here, or is a first guess

    def net_s(self, seconds_per_file: float, files_left: int) -> float:
        """Seconds it would save over the caller alone on the files left, less START_MARGIN times what
        starting costs the save: above zero where it pays with that margin."""
        faster_share = 1 - 1 / self.gain if self.gain > 1 else 0.0
        saved = seconds_per_file * files_left * faster_share
        # While the helpers get ready the caller saves at its own pace: that span loses only their share.
        start_cost = self.wait_s + self.ready_s * faster_share
        return saved - START_MARGIN * start_cost


def best_helpers(seconds_per_file: float, files_left: int, options: list[Helpers]) -> Helpers | None:
    """The option that would save most on the files left, or None where none pays for itself. An option not
    yet measured here goes first where its guess comes within EXPLORE_SHARE of the best: once tried, it is
    known."""
    scored = [(option.net_s(seconds_per_file, files_left), option) for option in options]
    best_net = max((net for net, _ in scored), default=0.0)
    if best_net <= 0:
        return None
    untried = [
        (net, option) for net, option in scored if not option.measured and net >= EXPLORE_SHARE * best_net
    ]
    return max(untried or scored, key=lambda scored_option: scored_option[0])[1]


def helper_count(workers: int, files: int, durability: str, cpus: int) -> int:
    """How many workers may help: no more than the files, nor the CPUs unless writes wait on the disk."""
    return min(workers, files, cpus if durability == "none" else workers)


# Whether this interpreter runs with the GIL: a free-threaded build (3.13t and later) may run without it.
GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()


def threads_first_guess(write_share: float, threads: int, gil: bool = GIL_ENABLED) -> float:
    """Threads' speed-up before one is measured here: the writes in parallel (the kernel's part of a write
    runs without the GIL), the making of the bytes one at a time (Amdahl's law) where the GIL holds it, in
    parallel too where there is none."""
    serial = 1 - write_share if gil else 0.0
    return 1 / (serial + (1 - serial) / threads)


def _options(
    job: Job, key: str, helpers: int, write_share: float, method: str | None, tried: dict[str, float]
) -> list[Helpers]:
    """The ways to bring in ``helpers`` helpers here, with what this machine has measured of them (``key``:
    :func:`fileio.costs.gain_key`), or what this save measured (``tried``). Worker processes would start by
    ``method`` (:func:`fileio.costs.start_method`); none where it is None: they would re-import a main program
    that cannot be."""

    def gain(kind: str, first_guess: float) -> tuple[float, bool]:
        return (tried[kind], True) if kind in tried else _weighed(f"{key}:{kind}", first_guess)

    threads = Helpers(
        "threads",
        costs.expected_start("threads"),
        0.0,
        *gain("threads", threads_first_guess(write_share, helpers)),
    )
    if job.pool is not None and job.pool.running:
        wait_s = ready_s = 0.0
    elif job.pool is None and method is None:
        return [threads]
    else:
        wait_s = 0.0 if "fileio.pools" in sys.modules else costs.expected_start("import")
        kind = costs.start_kind(method or costs.start_method())
        ready_s = costs.expected_start(kind)
        if kind == "fork":
            # The caller forks the workers itself, and saves nothing meanwhile: at 64 KiB atomic on ext4 it
            # saved 1 file where its pace alone would have saved 13, on a tmpfs 85 of 144 (a fork server
            # forks them while the caller saves on).
            wait_s, ready_s = wait_s + ready_s, 0.0
    processes = Helpers("processes", wait_s, ready_s, *gain("processes", float(helpers)))
    return [threads, processes]


def _weighed(key: str, first_guess: float) -> tuple[float, bool]:
    """The gain to weigh helpers on, and whether it was measured (:func:`fileio.costs.gain`); at
    :func:`retry_share` of the looks, their first guess, as if untried."""
    gain, measured = costs.gain(key, first_guess)
    if int.from_bytes(os.urandom(2)) < retry_share(costs.figures(key), gain) * 65536:
        return first_guess, False
    return gain, measured


def retry_share(figures: list[float], gain: float) -> float:
    """How often helpers with these figures, and the gain they give with the first guess, are weighed on the
    guess instead: never where that gain lets them in; RETRY_SHARE where two figures keep them out, half as
    often for each further one."""
    if not figures or gain > 1:
        return 0.0
    return RETRY_SHARE * 0.5 ** max(0, sum(figure <= 1 for figure in figures) - 2)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save in this thread until the files left warrant helpers, then bring in the best. Helpers not proven in
    this process are watched: where they fall behind the caller alone (:class:`Watch`), the caller takes the
    rest back (and may yet choose others)."""
    helpers = helper_count(workers, len(ids), job.durability, os.cpu_count() or 1)
    if job.pool is not None:
        helpers = min(helpers, job.pool.workers)
    if helpers < 2:
        for file_id in ids:
            on_saved(file_id, job.save(file_id))
        return
    times: list[float] = []  # seconds of files the caller saved, in order (of a run alone, its last WINDOW)

    def gain_key(nbytes: int) -> str:
        return costs.gain_key(job.directory, job.workload, nbytes, job.durability, helpers)

    write_share, key = _first_files(job, ids, on_saved, times, gain_key)
    left = ids[len(times) :]
    # The filesystem, the main program and this process's threads stay as they are during a save.
    method = costs.start_method()
    usable = None if method != "fork" and main_module_problem("auto") is not None else method
    tried: dict[str, float] = {}  # helpers' gains measured in this save, by kind
    options: list[Helpers] = []  # weighed at the first look, and again after helpers were stopped
    while left:
        if not options:
            options = _options(job, key, helpers, write_share, usable, tried)
        chosen = best_helpers(_seconds_per_file(times), len(left), options)
        if chosen is None:  # the caller saves on, to the next look
            saved = len(ids) - len(left)
            alone = max(1, int(saved * LOOK_GROWTH) - saved)
            _save_alone(job, left[:alone], on_saved, times)
            left = left[alone:]
            continue
        learns = len(left) > LEARN_FILES_PER_WORKER * helpers
        check = left[len(left) - _check_size(left, times) :] if learns else []
        # Helpers that paid in this process's last save of such files, or earlier in this one, go unwatched.
        watched = chosen.kind not in tried and not _proven_here(f"{key}:{chosen.kind}")
        span = left[: len(left) - len(check)]
        helped, unsaved = _help(job, chosen.kind, span, helpers, on_saved, times, watched)
        if unsaved:
            # Stopped: was it the helpers, or the disk's pace? The caller saves a few files alone to tell, and
            # weighs them all again.
            recheck = unsaved[: _check_size(unsaved, times)]
            tried[chosen.kind] = helped.gain(_pace_around(job, recheck, on_saved, times))
            left, options = unsaved[len(recheck) :] + check, []
            if tried[chosen.kind] < 1:
                # One figure a save is kept: this one where they lost, else the rest's. Both share what slows
                # a save (a process's first threads read 0.83x and 0.87x where later ones read 1.5x), and two
                # such figures would rule them out for good.
                costs.remember(f"{key}:{chosen.kind}", tried[chosen.kind])
            continue
        pace = _pace_around(job, check, on_saved, times)
        if learns and helped.files > 0 and helped.seconds >= LEARN_SECONDS:  # not where ready too late
            costs.remember(f"{key}:{chosen.kind}", helped.gain(pace))
        return


def _first_files(
    job: Job, ids: list[int], on_saved: OnSaved, times: list[float], gain_key: Callable[[int], str]
) -> tuple[float, str]:
    """Save the files before the first look, timing each in two parts; return the share of the time spent
    writing (threads do that in parallel, not the making of the bytes, which holds the GIL) and the files'
    ``gain_key``, by the first file's size. Only the first where threads paid in this process's last save of
    such files: they are brought in again at once."""
    writing_s, key = 0.0, ""
    began = last = perf_counter()
    for file_id in ids:
        data = job.generate(file_id)
        made = perf_counter()
        nbytes = job.write(file_id, data)
        ended = perf_counter()
        on_saved(file_id, nbytes)
        times.append(ended - last)
        writing_s += ended - made
        last = ended
        if len(times) == 1:
            key = gain_key(nbytes)
            if _proven_here(f"{key}:threads"):
                break
        if (len(times) >= FIRST_FILES and ended - began >= FIRST_FILES_S) or ended - began >= FIRST_LOOK_S:
            break
    return writing_s / (last - began), key


def _check_size(rest: list[int], times: list[float]) -> int:
    """How many of the last files the caller saves alone after helpers, to weigh them against its pace then
    (see CHECK_FILES)."""
    return min(CHECK_FILES, int(CHECK_SECONDS / _seconds_per_file(times)), len(rest) // CHECK_SHARE)


def _pace_around(job: Job, ids: list[int], on_saved: OnSaved, times: list[float]) -> float:
    """The caller's seconds per file around a span the helpers saved: the mean of its pace before the span and
    on ``ids``, which it saves alone right after (that alone after a single file). A disk's pace drifts within
    a save: on this VM's ext4 a save's 256 KiB files took 0.1 ms each at first and 0.3 ms 250 files on, its
    64 KiB atomic ones 0.3-0.4 and 0.55-0.65 ms, so that helpers weighed against the first files alone read
    0.65-0.86x where whole saves with threads were 1.15-1.3x faster than the caller's."""
    before = _seconds_per_file(times)
    checked_from = len(times)
    _save_alone(job, ids, on_saved, times)
    if not ids:
        return before
    after = costs.median(times[checked_from:])
    return after if checked_from == 1 else (before + after) / 2  # a first file alone pays for first touches


def _save_alone(job: Job, ids: list[int], on_saved: OnSaved, times: list[float]) -> None:
    """Save ``ids`` in the caller, adding the seconds of each of the last WINDOW to ``times`` (the pace is
    their median): one clock read a file, the least that tells them apart, and none before them (at 4 KiB on
    a tmpfs, a clock read for every file cost a save 2 %; timing each file's two parts cost 2 % at 64 KiB)."""
    untimed = max(0, len(ids) - WINDOW)
    for file_id in ids[:untimed]:
        on_saved(file_id, job.save(file_id))
    ends = [perf_counter()]
    for file_id in ids[untimed:]:
        on_saved(file_id, job.save(file_id))
        ends.append(perf_counter())
    times.extend(later - earlier for earlier, later in pairwise(ends))


def _proven_here(key: str) -> bool:
    """Whether this process's last save with such helpers found them faster than the caller alone: then their
    figures are not old, and a watch (whose short spans are noisy) would tell nothing new."""
    last = costs.last_measured_here(key)
    return last is not None and last > 1


def _seconds_per_file(times: list[float]) -> float:
    """The caller's seconds per file in this save: the median of the last WINDOW files but the first (the
    first where it is alone)."""
    return costs.median(times[1:][-WINDOW:] or times)


class Helped:
    """What helpers did once ready: they saved ``files`` files in ``seconds`` (those the caller saved while
    they started not counted)."""

    __slots__ = ("files", "seconds", "helpers")

    def __init__(self, files: float, seconds: float, helpers: int) -> None:
        self.files, self.seconds, self.helpers = files, seconds, helpers

    def gain(self, pace: float) -> float:
        """How many times faster than the caller alone, at ``pace`` seconds a file, they saved: no more than
        as many times as there are helpers (a higher reading comes from a slow first-files pace: the caller's
        first files in a fresh process take up to 2.5 times the later ones, and it would win them every
        ranking); 1 where they had no time to help."""
        if self.seconds <= 0:
            return 1.0
        return min(max(0.0, self.files) * pace / self.seconds, float(self.helpers))


class Watch:
    """Counts the files saved while helpers work, from when they all have work, and says whether to keep them
    on: not once what they saved, even counting the files each may have saved unreported (``unreported``),
    is below what the caller alone would have saved at ``pace`` seconds a file. Stopping them costs little
    (the caller saves a few files alone, to weigh them against its pace then too, and they may start again),
    so it takes no margin for a short span's noise (at 256 KiB on a tmpfs, where threads gave 1.5x over whole
    saves, 10 ms spans read 0.9-2.0x): at 4 KiB on ext4, threads that read 0.85-0.89x, within such a margin,
    saved the rest of a save that way. Until they have been weighed (WATCH_SECONDS), only helpers far behind
    are stopped: by WATCH_LOSS_S, and slower together than one of them would be at ``pace`` (threads on
    4 KiB files on a tmpfs, 0.4x: a whole 25 ms save was over before the first weighing; a disk's stall
    shorter than WATCH_LOSS_S does not stop helpers that pay)."""

    def __init__(self, on_saved: OnSaved, pace: float, helpers: int, unreported: int) -> None:
        self.on_saved, self.pace, self.helpers = on_saved, pace, helpers
        self.in_flight = unreported * helpers
        self.files, self.counted, self.since = 0, 0, 0.0
        self.stopped = Helped(0, 0.0, helpers)  # what they had saved when last weighed

    def saved(self, file_id: int, nbytes: int) -> None:
        self.files += 1
        self.on_saved(file_id, nbytes)

    def keep_on(self) -> bool:
        now = perf_counter()
        if not self.since:  # the helpers all have work from now on
            self.since, self.counted = now, self.files
            return True
        seconds = now - self.since
        self.stopped = Helped(self.files - self.counted, seconds, self.helpers)
        caller_s = (self.stopped.files + self.in_flight) * self.pace  # what the caller would take for as many
        if seconds < max(WATCH_SECONDS, WATCH_FILES_PER_HELPER * self.helpers * self.pace):
            return seconds - caller_s < WATCH_LOSS_S or caller_s * self.helpers >= seconds
        return caller_s >= seconds


def _help(
    job: Job,
    kind: str,
    ids: list[int],
    helpers: int,
    on_saved: OnSaved,
    times: list[float],
    watched: bool,
) -> tuple[Helped, list[int]]:
    """Save ``ids`` with ``helpers`` helpers of ``kind``, watched (:class:`Watch`) or not;
    return what they did once started (what starting them took is kept apart, as a start-up), and the ids
    left unsaved where the watch stopped them."""
    began = perf_counter()
    import_s = ready_s = blocking_s = 0.0
    size = task_size(len(ids), helpers)
    watch = None
    if watched:
        unreported = 1 if kind == "threads" else min(size, REPORT_FILES)
        watch = Watch(on_saved, _seconds_per_file(times), helpers, unreported)
        on_saved = watch.saved
    keep_on = None if watch is None else watch.keep_on
    if kind == "threads":
        unsaved = run_threads(job.save, ids, helpers, on_saved, keep_on)
    else:
        start = (
            "running" if job.pool is not None and job.pool.running else costs.start_kind(costs.start_method())
        )
        loaded = "fileio.pools" in sys.modules
        from fileio.pools import run_batches

        if not loaded:
            import_s = perf_counter() - began
            costs.remember("start:import", import_s)
        shared = run_batches(save_each, job, ids, helpers, on_saved, size, keep_on)
        if shared.ready_s is not None:
            ready_s, blocking_s = shared.ready_s, shared.blocking_s
            costs.remember(f"start:{start}", ready_s)
        unsaved = shared.left
    if watch is not None and unsaved:
        return watch.stopped, unsaved
    # Until the workers were ready, the caller saved files at its own pace, but while it forked them: the
    # helpers saved the rest.
    helped_files = len(ids) - (ready_s - blocking_s) / _seconds_per_file(times)
    return Helped(helped_files, perf_counter() - began - import_s - ready_s, helpers), unsaved


STRATEGY = Strategy(
    "auto",
    "saves in the caller from the start, timing the files; worker processes join once the rest warrants them",
    _save,
    starts_processes=True,
    takes_pool=True,
    optional_processes=True,
)
