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

Threads chosen on a guess, or on figures older than this process, first save a trial share of the files (not
where this process's last save with them found them paying: those come in after the first file). Where they
turn out slower than the caller alone (small files, whose every write hands the GIL over), beyond a short
trial's noise below what they were chosen on, also against the caller's pace on a few files right after the
trial, the caller takes the rest back and may yet choose worker processes; the loss is what the next save
weighs. A save that helpers cannot speed up, or that is over before they would pay for themselves, stays in
the caller: ``sequential``, with no start-up at all. There are ``min(workers, CPUs)`` helpers, or ``workers``
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
from fileio.worker import save_each

# Helpers are brought in once what they would save is this many times what starting them costs the save:
# enough for a wrong guess to cost little (the caller saves files while processes start, so one that does not
# pay costs a fork).
# Options are ranked the same way, start-up counted START_MARGIN times: it is paid for sure, where the gain
# is a noisy figure (in a fresh process at 256 KiB, threads and processes read 0.8-2.4x, and processes, with
# 40 ms to start, won the ranking on such a reading in 4 saves of 20, each slower than threads by a third).
START_MARGIN = 2.0
# When to look first: after FIRST_FILES files, or after FIRST_LOOK_S of saving, even one file: the first pays
# for first touches, several times a later small file, but little beside a file that long (a CSV file takes
# ~8 ms), and the workers a look brings in start that much sooner; after the first file alone where threads
# paid in this process's last save of such files (at 256 KiB, 7 files saved alone cost a save ~3 %). The
# seconds per file are the median of the last WINDOW files but the first (the first alone, before a second).
# Later looks come after every LOOK_GROWTH times as many files: few, and cheap.
FIRST_FILES, FIRST_LOOK_S, WINDOW, LOOK_GROWTH = 8, 0.005, 32, 1.5
EXPLORE_SHARE = 0.25
# After helpers, the caller saves the last CHECK_FILES files alone, to weigh what the helpers gave against its
# pace then as well as before (:func:`_pace_around`); fewer where they would take it over CHECK_SECONDS or be
# over 1/CHECK_SHARE of the files left. Each file the caller saves alone, not helped, costs the save a share
# of (gain - 1) / files: 1 % at 8 of 128 x 64 KiB (threads, 1.2x); a CSV file (8 ms) gets no check, where one
# of 24 would cost 3 % (processes, 1.7x).
CHECK_FILES, CHECK_SECONDS, CHECK_SHARE = 8, 0.004, 16
# A speed-up is learned only from a span long enough to time: so many files per worker, so many seconds.
LEARN_FILES_PER_WORKER, LEARN_SECONDS = 8, 0.002
# The threads' trial: what the caller alone would save in TRIAL_SECONDS, but no more than TRIAL_SHARE of the
# files left, and at least so many files a thread; none where that leaves nothing to decide on.
TRIAL_SECONDS, TRIAL_FILES_PER_WORKER, TRIAL_SHARE = 0.01, 8, 0.5
# Figures that keep helpers out (a gain of 1 or less) are measured again only where helpers are tried: at
# RETRY_SHARE of the looks, such helpers are weighed on their first guess instead, as if untried, and half as
# often for each further figure that keeps them out (each retry that confirms the loss adds one: at 4 KiB on
# ext4, where helpers read 0.4-0.85x, a retry made a script run once up to 1.5x as slow). Without it,
# two low figures (read on a busy machine, or under a profiler) kept threads out for good: seen here, where
# threads saved 256 KiB files 1.2x faster on a tmpfs, auto saved like sequential in every save after. A retry
# where helpers do lose costs a save a trial (threads) or a pool's start (processes); at random, for a script
# run once too. Helpers that pay but less than others are not retried: at 64 KiB atomic on ext4, each save
# that tried processes again (0.5-1.3x) where threads paid 1.2-1.3x was up to 30 % slower.
RETRY_SHARE = 1 / 16
# A trial that short is noisy: at 256 KiB on a tmpfs, where threads gave 1.5x over whole saves, trials read
# 0.9-2.0x. So a trial refutes the gain threads were chosen on only below TRIAL_DOUBT of it (and below 1x).
TRIAL_DOUBT = 0.5


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


def threads_first_guess(write_share: float, threads: int) -> float:
    """Threads' speed-up before one is measured here: the writes in parallel (the kernel's part of a write
    runs without the GIL), the making of the bytes one at a time (Amdahl's law)."""
    return 1 / (1 - write_share + write_share / threads)


def _options(
    job: Job, key: str, helpers: int, write_share: float, method: str | None, tried: dict[str, float]
) -> list[Helpers]:
    """The ways to bring in ``helpers`` helpers here, with what this machine has measured of them (``key``:
    :func:`fileio.costs.gain_key`), or what this save measured (``tried``). Worker processes would start by
    ``method`` (:func:`fileio.costs.start_method`); none where it is None: they would re-import a main program
    that cannot be."""
    threads_gain = (
        (tried["threads"], True)
        if "threads" in tried
        else _weighed(f"{key}:threads", threads_first_guess(write_share, helpers))
    )
    threads = Helpers("threads", costs.expected_start("threads"), 0.0, *threads_gain)
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
    processes = Helpers("processes", wait_s, ready_s, *_weighed(f"{key}:processes", float(helpers)))
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
    """Save in this thread until the files left warrant helpers, then bring in the best. Threads first save a
    trial share: where it refutes them (:func:`trial_refutes`), the caller goes on (and may yet choose
    processes)."""
    helpers = helper_count(workers, len(ids), job.durability, os.cpu_count() or 1)
    if job.pool is not None:
        helpers = min(helpers, job.pool.workers)
    if helpers < 2:
        for file_id in ids:
            on_saved(file_id, job.save(file_id))
        return
    times: list[float] = []  # seconds per file saved by the caller, in order

    def gain_key(nbytes: int) -> str:
        return costs.gain_key(job.directory, job.workload, nbytes, job.durability, helpers)

    write_share, key = _first_files(job, ids, on_saved, times, gain_key)
    position = len(times)
    # The filesystem, the main program and this process's threads stay as they are during a save.
    method = costs.start_method()
    usable = None if method != "fork" and main_module_problem("auto") is not None else method
    tried: dict[str, float] = {}  # helpers' gains measured in this save, by kind
    options: list[Helpers] = []  # weighed at the first look, and again after a trial
    while position < len(ids):
        if not options:
            options = _options(job, key, helpers, write_share, usable, tried)
        chosen = best_helpers(_seconds_per_file(times), len(ids) - position, options)
        if chosen is None:  # the caller saves on, to the next look
            next_look = max(position + 1, int(position * LOOK_GROWTH))
            _save_alone(job, ids[position:next_look], on_saved, times)
            position = min(next_look, len(ids))
            continue
        rest = ids[position:]
        if chosen.kind == "threads" and "threads" not in tried and not _proven_here(f"{key}:threads"):
            within = min(int(TRIAL_SECONDS / _seconds_per_file(times)), int(len(rest) * TRIAL_SHARE))
            trial = rest[: max(TRIAL_FILES_PER_WORKER * helpers, within)]
            if len(trial) < len(rest):
                # One figure a save is kept: the trial's where it refutes them, else the rest's. Both share
                # what slows a save (a process's first threads read 0.83x and 0.87x where later ones read
                # 1.5x), and two such figures would rule threads out for good.
                helped = _help(job, chosen.kind, trial, helpers, on_saved, times)
                position += len(trial)
                tried["threads"] = helped.gain(_seconds_per_file(times))
                if trial_refutes(tried["threads"], chosen.gain):
                    # Before the caller takes the rest back: was it the threads, or the disk's pace?
                    check = ids[position : position + _check_size(ids[position:], times)]
                    tried["threads"] = helped.gain(_pace_around(job, check, on_saved, times))
                    position += len(check)
                if trial_refutes(tried["threads"], chosen.gain):
                    costs.remember(f"{key}:threads", tried["threads"])
                    options = []
                    continue
                rest = ids[position:]
        learns = len(rest) > LEARN_FILES_PER_WORKER * helpers
        check = rest[len(rest) - _check_size(rest, times) :] if learns else []
        helped = _help(job, chosen.kind, rest[: len(rest) - len(check)], helpers, on_saved, times)
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
        if len(times) >= FIRST_FILES or ended - began >= FIRST_LOOK_S:
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
    """Save ``ids`` in the caller, adding their seconds each to ``times``: one clock read a file, the least
    that tells them apart (at 64 KiB on a tmpfs, timing each file's two parts cost a save about 2 %)."""
    ends = [perf_counter()]
    for file_id in ids:
        on_saved(file_id, job.save(file_id))
        ends.append(perf_counter())
    times.extend(later - earlier for earlier, later in pairwise(ends))


def _proven_here(key: str) -> bool:
    """Whether this process's last save with such helpers found them faster than the caller alone: then their
    figures are not old, and a trial (which costs a save ~10 % at 256 KiB: two runs of threads, two tails)
    would tell nothing new."""
    last = costs.last_measured_here(key)
    return last is not None and last > 1


def trial_refutes(trial_gain: float, expected_gain: float) -> bool:
    """Whether the threads' trial says the caller does better alone: slower than the caller, and by more than
    a short trial's noise below the gain they were chosen on."""
    return trial_gain < min(1.0, TRIAL_DOUBT * expected_gain)


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
        ranking); 1 where they were ready too late to help."""
        if self.files <= 0 or self.seconds <= 0:
            return 1.0
        return min(self.files * pace / self.seconds, float(self.helpers))


def _help(job: Job, kind: str, ids: list[int], helpers: int, on_saved: OnSaved, times: list[float]) -> Helped:
    """Save ``ids`` with ``helpers`` helpers of ``kind``; return what they did once started. What starting
    them took is kept apart, as a start-up."""
    began = perf_counter()
    import_s = ready_s = blocking_s = 0.0
    if kind == "threads":
        run_threads(job.save, ids, helpers, on_saved)
    else:
        start = (
            "running" if job.pool is not None and job.pool.running else costs.start_kind(costs.start_method())
        )
        loaded = "fileio.pools" in sys.modules
        from fileio.pools import run_batches

        if not loaded:
            import_s = perf_counter() - began
            costs.remember("start:import", import_s)
        started = run_batches(save_each, job, ids, helpers, on_saved, task_size(len(ids), helpers))
        if started is not None:
            ready_s, blocking_s = started
            costs.remember(f"start:{start}", ready_s)
    # Until the workers were ready, the caller saved files at its own pace, but while it forked them: the
    # helpers saved the rest.
    helped_files = len(ids) - (ready_s - blocking_s) / _seconds_per_file(times)
    return Helped(helped_files, perf_counter() - began - import_s - ready_s, helpers)


STRATEGY = Strategy(
    "auto",
    "saves in the caller from the start, timing the files; worker processes join once the rest warrants them",
    _save,
    starts_processes=True,
    takes_pool=True,
    optional_processes=True,
)
