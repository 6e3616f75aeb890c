"""auto: saves in the caller from the first file, and brings in workers once the files left warrant their
start-up here; its rule on known numbers, and real saves in fresh processes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import bytes_written, worker_processes

from fileio import STRATEGIES, CsvWorkload, PayloadWorkload, WarmPool, costs, verify
from fileio.job import Job
from fileio.strategies import auto
from fileio.strategies.auto import (
    FIRST_FILES,
    FIRST_FILES_S,
    FIRST_LOOK_S,
    RETRY_SHARE,
    WATCH_LOSS_S,
    WATCH_SECONDS,
    Helpers,
    Watch,
    _first_files,
    _options,
    best_helpers,
    helper_count,
    retry_share,
    threads_first_guess,
)
from fileio.writer import owner_token

THREADS = Helpers("threads", wait_s=0.0005, ready_s=0.0, gain=1.8, measured=True)
FORKED = Helpers("processes", wait_s=0.0, ready_s=0.025, gain=2.0, measured=True)


def changed(option: Helpers, **changes: Any) -> Helpers:
    return Helpers(**{**{name: getattr(option, name) for name in Helpers.__slots__}, **changes})


@pytest.mark.parametrize(
    ("seconds_per_file", "files_left", "options", "expected"),
    [
        pytest.param(5e-3, 200, [changed(THREADS, gain=1.02), FORKED], "processes", id="csv-files"),
        pytest.param(2e-5, 100, [THREADS, FORKED], None, id="a-few-small-files"),
        pytest.param(
            2e-5,
            4000,
            [changed(THREADS, gain=0.9), changed(FORKED, wait_s=0.02, ready_s=0.015)],
            None,
            id="small-files-processes-not-yet-imported",
        ),
        pytest.param(
            5e-3,
            24,
            [changed(THREADS, gain=1.02), changed(FORKED, ready_s=0.05)],
            "processes",
            id="csv-files-the-caller-saves-while-processes-start",
        ),
        pytest.param(2e-5, 40000, [changed(THREADS, gain=0.9), FORKED], "processes", id="many-small-files"),
        pytest.param(1.5e-4, 1000, [THREADS, changed(FORKED, gain=1.9)], "threads", id="large-files"),
        pytest.param(
            2.5e-4,
            992,
            [changed(THREADS, gain=1.4), changed(FORKED, wait_s=0.025, ready_s=0.015)],
            "threads",
            id="large-files-processes-not-yet-imported",
        ),
        pytest.param(2e-5, 100, [changed(FORKED, ready_s=0.0)], "processes", id="a-running-warm-pool"),
        pytest.param(
            1e-3, 1000, [changed(THREADS, gain=0.95), changed(FORKED, gain=1.0)], None, id="no-gain"
        ),
        pytest.param(
            1.5e-4,
            1000,
            [changed(THREADS, measured=False), changed(FORKED, gain=2.2)],
            "threads",
            id="untried",
        ),
    ],
)
def test_helpers_come_in_where_they_pay_for_themselves(
    seconds_per_file: float, files_left: int, options: list[Helpers], expected: str | None
) -> None:
    """The best option on the measured figures, or none: staying in the caller; an option not measured yet
    is tried where its guess comes close to the best, and so gets measured."""
    chosen = best_helpers(seconds_per_file, files_left, options)
    assert (chosen.kind if chosen else None) == expected


@pytest.mark.parametrize(("write_share", "guess"), [(0.0, 1.0), (1.0, 2.0), (0.5, 4 / 3)])
def test_threads_first_guess_parallels_only_the_writes(write_share: float, guess: float) -> None:
    assert threads_first_guess(write_share, 2, gil=True) == pytest.approx(guess)


@pytest.mark.parametrize("write_share", [0.0, 0.3, 1.0])
def test_without_the_gil_threads_first_guess_parallels_everything(write_share: float) -> None:
    """A free-threaded build makes the bytes in parallel too: n threads are first guessed n times as fast."""
    assert threads_first_guess(write_share, 4, gil=False) == pytest.approx(4)


def test_a_gain_needs_confirming_before_it_rules_helpers_out() -> None:
    """One low speed-up measured here does not replace the first guess (it would stop helpers from ever being
    tried again, and measured again); a second one confirming it does, and so do later figures."""
    key = "gain:test:one-unlucky-save:processes"
    assert costs.gain(key, 2.0) == (2.0, False)
    costs.remember(key, 1.05)
    assert costs.gain(key, 2.0) == (2.0, True)
    costs.remember(key, 1.1)
    assert costs.gain(key, 2.0) == (1.1, True)
    for _ in range(5):
        costs.remember(key, 1.6)
    assert costs.gain(key, 2.0) == (1.6, True)


WRITES_SCRIPT = """
    from fileio import costs

    for value in (1.5, 1.6, 1.7):
        costs.remember("gain:test:written", value)
        if value < 1.7:
            with open(costs._path()) as file:
                print(file.read(), end="")
"""


def test_figures_reach_the_cache_at_once_then_at_most_once_a_minute_and_at_exit(
    run_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process's first figure is written at once (a script run once saves once); figures that follow
    within ``WRITE_EVERY_S`` wait for the next write or the process's exit, where none is lost."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path))
    done = run_python(WRITES_SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "gain:test:written 1.5\n" * 2
    [cache] = tmp_path.iterdir()
    assert cache.read_text() == "gain:test:written 1.5 1.6 1.7\n"


def test_forget_starts_again_from_no_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``forget_measurements`` drops what earlier saves measured, in this process and in the cache (the
    bench's gate starts every round of both sides from it)."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(costs, "_figures", {})
    key = "gain:test:forgotten:threads"
    costs.remember(key, 3.0)
    costs.remember(key, 3.0)
    assert costs.gain(key, 1.5) == (3.0, True) and costs.last_measured_here(key) == 3.0
    costs.forget_measurements()
    assert costs.gain(key, 1.5) == (1.5, False) and costs.last_measured_here(key) is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("workers", "files", "durability", "expected"),
    [(8, 1000, "none", 2), (8, 1000, "fsync", 8), (8, 3, "atomic", 3), (1, 1000, "none", 1)],
)
def test_helpers_are_bounded_by_cpus_unless_writes_wait(
    workers: int, files: int, durability: str, expected: int
) -> None:
    assert helper_count(workers, files, durability, cpus=2) == expected


SCRIPT = """
    import sys
    from fileio import STRATEGIES, CsvWorkload, PayloadWorkload

    if __name__ == "__main__":
        directory, kind, files = sys.argv[1], sys.argv[2], int(sys.argv[3])
        workload = CsvWorkload() if kind == "csv" else PayloadWorkload(4096)
        STRATEGIES["auto"](directory, range(files), workers=2, workload=workload)
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="workers cannot help on one CPU")
@pytest.mark.parametrize(
    ("kind", "files", "starts_workers"),
    [("payload", 8, False), ("csv", 60, True)],
    ids=["8-small-files-stay-in-the-caller", "60-csv-files-bring-in-workers"],
)
def test_a_fresh_process(
    kind: str, files: int, starts_workers: bool, run_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script run once on a machine with nothing measured yet: a save over in a few milliseconds brings in
    no helper; one of CPU-bound files starts worker processes, and records how long they took to start and
    what they gave, for the next save to weigh."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(cache))
    done = run_python(SCRIPT, str(tmp_path / "out"), kind, str(files))
    assert done.returncode == 0, done.stderr
    figures = {  # as the process left them: some are written when it exits
        key: [float(value) for value in values]
        for path in cache.iterdir()
        for key, *values in map(str.split, path.read_text().splitlines())
    }
    if starts_workers:
        assert {key.partition(":")[0] for key in figures} == {"start", "gain"}, figures
        assert {"start:import", "start:fork"} <= set(figures) and all(
            0 < s < 5 for s in figures["start:fork"]
        )
        [gain] = [values for key, values in figures.items() if key.endswith(":processes")]
        assert 0 < gain[0] < 10
    else:
        assert figures == {}
    verify(tmp_path / "out", range(files), CsvWorkload() if kind == "csv" else PayloadWorkload(4096))


def test_auto_saves_on_a_running_warm_pool(tmp_path: Path) -> None:
    """Given a running WarmPool, auto's workers are the pool's: they write the files, and stay up."""
    workload = CsvWorkload(n_lines=2000)
    with WarmPool(workers=2) as pool:
        workers = worker_processes(os.getpid())
        before = {pid: bytes_written(pid) for pid in workers}
        report = STRATEGIES["auto"](tmp_path, range(60), workers=2, workload=workload, pool=pool)
        assert worker_processes(os.getpid()) == workers
        assert all(bytes_written(pid) > before[pid] + 50_000 for pid in workers)
    assert report.files == 60
    verify(tmp_path, range(60), workload)


@pytest.mark.parametrize(
    "workload", [CsvWorkload(n_lines=200), PayloadWorkload(4096)], ids=["csv", "payload"]
)
def test_auto_saves_everything_exactly(workload, tmp_path: Path) -> None:
    report = STRATEGIES["auto"](tmp_path, range(50), workers=2, workload=workload, durability="atomic")
    assert report.files == 50
    verify(tmp_path, range(50), workload)


def test_a_strategy_without_workers_refuses_a_pool(tmp_path: Path) -> None:
    with WarmPool(workers=1) as pool, pytest.raises(ValueError, match="'threads' cannot run on a WarmPool"):
        STRATEGIES["threads"](tmp_path / "out", range(3), workers=1, pool=pool)
    assert not (tmp_path / "out").exists()


WATCH_SCRIPT = """
    import json, os, sys, threading, time
    from fileio import STRATEGIES, PayloadWorkload, costs
    from fileio.strategies import auto
    from fileio.strategies.auto import helper_count

    class Timed(PayloadWorkload):
        # Making a file's bytes sleeps far longer on helpers (where they lose) than in the caller (1 ms, so
        # that the files left warrant helpers), or as long everywhere (where they win, sleeping in parallel),
        # or longer the later the file, everywhere: a disk whose pace slows as a save goes on.
        def data(self, file_id):
            on_caller = os.getpid() == caller and threading.current_thread() is threading.main_thread()
            if sys.argv[3] == "drifting":
                time.sleep(float(sys.argv[5]) * (1 + file_id / 5))
            else:
                slow = not on_caller or sys.argv[3] == "everywhere"
                time.sleep(float(sys.argv[5]) if slow else 0.001)
            if on_caller:
                by_caller.append(file_id)
            return super().data(file_id)

    if __name__ == "__main__":
        directory, kind, files = sys.argv[1], sys.argv[2], int(sys.argv[4])
        caller, by_caller = os.getpid(), []
        auto.RETRY_SHARE = 0  # weigh the figures seeded below, never the first guess
        workload = Timed(4096)
        helpers = helper_count(2, files, "none", 2)
        key = costs.gain_key(directory, workload, 4096, "none", helpers)
        if sys.argv[3] == "seed":  # an earlier process "knew" these helpers to pay here, the others not to
            other = "processes" if kind == "threads" else "threads"
            for _ in range(costs.KEPT):
                costs.remember(f"{key}:{kind}", 3.0)
                costs.remember(f"{key}:{other}", 0.5)
            sys.exit()
        STRATEGIES["auto"](directory, range(files), workers=2, workload=workload)
        print(json.dumps({"by_caller": by_caller, "figures": costs.figures(f"{key}:{kind}")}))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="helpers cannot help on one CPU")
@pytest.mark.parametrize(
    ("kind", "slow", "files", "sleep_s"),
    # Sleeps long beside what a busy machine takes from a thread: with 0.5-5 ms, beside a parallel tox run or
    # two CPU burners, a short span read < 1x where threads win, or > 1x where they lose (a starved caller's
    # files took milliseconds). Processes need more files to pay for their start-up (~25 ms first guessed).
    [
        ("threads", "on-helpers", 40, 0.05),
        ("processes", "on-helpers", 150, 0.05),
        ("threads", "everywhere", 100, 0.02),
        ("threads", "drifting", 100, 0.0002),
    ],
)
def test_helpers_chosen_on_old_figures_are_watched(
    kind: str,
    slow: str,
    files: int,
    sleep_s: float,
    run_python,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the cached figures say helpers pay, auto brings them in, and watches them. Where they turn out
    slower than the caller alone, they stop before their next file and the caller takes the rest back, and
    the loss is what the next save weighs; where they pay, they save the rest, and what they gave on it is.
    Where every file takes longer than the one before, helpers are weighed against the caller's pace around
    them, not only before: they pay (measured against the first files alone, spans read 0.65-0.95x)."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "out").mkdir()
    for step in ("seed", slow):
        done = run_python(WATCH_SCRIPT, str(tmp_path / "out"), kind, step, str(files), str(sleep_s))
        assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    on_helpers = sorted(set(range(files)) - set(result["by_caller"]))
    assert sorted(result["by_caller"]) == sorted(set(result["by_caller"])) and on_helpers
    # One figure a save, the stopped span's or the rest's: two from one save would outvote the figures before.
    assert result["figures"][:-1] == [3.0] * (costs.KEPT - 1)
    if slow == "on-helpers":
        # Stopped before their next file once weighed, and the caller saves the rest: they saved 2-4 files
        # here, and up to 6 beside two CPU burners (which slow the caller's first files, so that the watch
        # first weighs the helpers later).
        assert len(on_helpers) <= files // 4 and len(result["by_caller"]) == files - len(on_helpers)
        assert result["figures"][-1] < 1  # the loss, for the next save to weigh
    else:
        # The caller saves the first files, and a few at the end (and after a stop), to weigh the helpers.
        assert len(on_helpers) > 0.8 * files and result["figures"][-1] > 1
    verify(tmp_path / "out", range(files), PayloadWorkload(4096))


PROVEN_SCRIPT = """
    import json, sys, time
    from fileio import STRATEGIES, PayloadWorkload, costs
    from fileio.strategies import auto

    class Sleepy(PayloadWorkload):
        # Making the bytes sleeps (the GIL released): threads pay, on a busy machine too.
        def data(self, file_id):
            time.sleep(0.01)
            return super().data(file_id)

    if __name__ == "__main__":
        workload, watches = Sleepy(4096), []
        auto.RETRY_SHARE = 0  # weigh the figures seeded below, never the first guess
        threads_key = costs.gain_key(sys.argv[1], workload, 4096, "none", 2) + ":threads"
        if sys.argv[2] == "seed":  # figures of an earlier process: threads pay, processes do not
            for _ in range(costs.KEPT):
                costs.remember(threads_key, 3.0)
                costs.remember(threads_key.replace(":threads", ":processes"), 0.5)
            sys.exit()
        class Counted(auto.Watch):
            def __init__(self, *args):
                watches[-1] += 1
                super().__init__(*args)
        auto.Watch = Counted
        for save in range(2):
            watches.append(0)
            STRATEGIES["auto"](f"{sys.argv[1]}/{save}", range(40), workers=2, workload=workload)
        print(json.dumps({"watches": watches, "threads": costs.last_measured_here(threads_key)}))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="helpers cannot help on one CPU")
def test_threads_that_paid_in_this_process_are_not_watched(
    run_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads chosen on figures from earlier processes are watched, but once a save of this process found
    them paying, the next trusts that (a watch's short spans are noisy)."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path / "cache"))
    for step in ("seed", "save"):
        done = run_python(PROVEN_SCRIPT, str(tmp_path), step)
        assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["watches"] == [1, 0] and result["threads"] > 1
    for save in range(2):
        verify(tmp_path / str(save), range(40), PayloadWorkload(4096))


PROVEN_AT_ONCE_SCRIPT = """
    import json, os, sys, threading, time
    from fileio import STRATEGIES, PayloadWorkload, costs
    from fileio.strategies import auto

    class Timed(PayloadWorkload):
        def data(self, file_id):
            time.sleep(0.0004)  # 8 files within the first look's 5 ms
            if threading.current_thread() is threading.main_thread():
                by_caller.append(file_id)
            return super().data(file_id)

    if __name__ == "__main__":
        by_caller, workload = [], Timed(4096)
        os.makedirs(sys.argv[1])
        auto.RETRY_SHARE = 0  # weigh the figure below, never the first guess
        key = costs.gain_key(sys.argv[1], workload, 4096, "none", 2)
        costs.remember(f"{key}:threads", 3.0)  # as if this process's last save found threads paying,
        for _ in range(2):  # and earlier ones processes not (the files' first look would explore them)
            costs.remember(f"{key}:processes", 0.5)
        STRATEGIES["auto"](sys.argv[1], range(40), workers=2, workload=workload)
        print(json.dumps(by_caller))
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="helpers cannot help on one CPU")
def test_threads_that_paid_in_this_process_come_in_after_the_first_file(
    run_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where this process's last save of such files found threads paying, the caller saves one file, not
    the first look's eight, before they come in: in a running program, the 7 files saved alone cost a save
    of 256 x 256 KiB ~3 %."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path / "cache"))
    done = run_python(PROVEN_AT_ONCE_SCRIPT, str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    by_caller = json.loads(done.stdout)
    assert by_caller[0] == 0 and not set(range(1, 30)) & set(by_caller)
    verify(tmp_path / "out", range(40), PayloadWorkload(4096))


RETRY_SCRIPT = """
    import json, sys, threading, time
    from fileio import STRATEGIES, PayloadWorkload, costs
    from fileio.strategies import auto

    class Sleepy(PayloadWorkload):
        # Making the bytes sleeps (the GIL released): helpers pay, threads and processes alike.
        def data(self, file_id):
            time.sleep(0.002)
            on_caller.append(threading.current_thread() is threading.main_thread())
            return super().data(file_id)

    if __name__ == "__main__":
        directory, on_caller, workload = sys.argv[1], [], Sleepy(4096)
        auto.RETRY_SHARE = float(sys.argv[2])
        key = costs.gain_key(directory, workload, 4096, "none", 2)
        # Earlier saves (a busy minute) found helpers slower than the caller, or processes paying less than
        # threads.
        seeded = {"losing": (0.5, 0.5), "outranked": (3.0, 1.1)}[sys.argv[3]]
        for _ in range(2):
            for kind, gain in zip(("threads", "processes"), seeded):
                costs.remember(f"{key}:{kind}", gain)
        STRATEGIES["auto"](directory, range(100), workers=2, workload=workload)
        learned = [costs.last_measured_here(f"{key}:{kind}") for kind in ("threads", "processes")]
        print(json.dumps({"by_caller": on_caller.count(True), "learned": learned}))
"""


@pytest.mark.parametrize(
    ("figures", "gain", "of_retry_share"),
    # the gains: their median with a first guess of 2x (the upper of two middle ones)
    [
        ([], 2.0, 0.0),
        ([1.5, 0.8], 1.5, 0.0),
        ([0.5, 0.8], 0.8, 1.0),
        ([0.5, 0.8, 0.6], 0.8, 1 / 2),
        ([0.5] * 5, 0.5, 1 / 8),
    ],
    ids=["unmeasured", "one-low", "ruled-out", "confirmed-once", "confirmed-thrice"],
)
def test_helpers_ruled_out_are_retried_less_often_the_more_figures_confirm_it(
    figures: list[float], gain: float, of_retry_share: float
) -> None:
    """Only figures that keep helpers out (a gain with the first guess of at most 1) make a retry, at
    RETRY_SHARE where two do, and half as often for each more: each retry that confirms adds one."""
    assert costs.median([*figures, 2.0]) == gain
    assert retry_share(figures, gain) == pytest.approx(of_retry_share * RETRY_SHARE)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="helpers cannot help on one CPU")
@pytest.mark.parametrize(("seeded", "share"), [("losing", 0.0), ("losing", 1.0), ("outranked", 1.0)])
def test_helpers_ruled_out_by_old_figures_are_tried_again_at_random(
    seeded: str, share: float, run_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Figures that say helpers lose keep them out, and so are never measured again, but at RETRY_SHARE of
    the looks: these weigh helpers on their first guess, and where they now pay they save the files and
    measure it. Helpers that pay, if less than others, are left out of the retries (each costs a save)."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "out").mkdir()
    done = run_python(RETRY_SCRIPT, str(tmp_path / "out"), str(share), seeded)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    if seeded == "outranked":  # threads save the files; processes are not measured again
        assert result["by_caller"] < 50 and result["learned"][0] > 1 and result["learned"][1] == 1.1
    elif share:
        assert result["by_caller"] < 50
        assert max(gain or 0 for gain in result["learned"]) > 1
    else:
        assert result["by_caller"] == 100 and result["learned"] == [0.5, 0.5]
    verify(tmp_path / "out", range(100), PayloadWorkload(4096))


START_SCRIPT = """
    import json, sys, time
    from fileio import PayloadWorkload, costs
    from fileio.job import Job
    from fileio.pools import run_batches
    from fileio.worker import save_each
    from fileio.writer import owner_token

    class Sleepy(PayloadWorkload):
        def data(self, file_id):
            time.sleep(0.001)  # long enough a save for a fork server's workers to get ready
            return super().data(file_id)

    if __name__ == "__main__":
        with Job(sys.argv[1], Sleepy(4096), "none", owner_token()).opened() as job:
            started = run_batches(save_each, job, list(range(400)), 2, lambda *_: None)
        print(json.dumps({"method": costs.start_method(), "started": started}))
"""


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_a_new_pool_says_how_long_it_held_the_caller(
    method: str, run_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forked workers are made by the caller, which saves nothing meanwhile: their start-up holds it (and
    auto counts it in full); a fork server makes them while the caller saves on."""
    monkeypatch.setenv("FILEIO_START_METHOD", method)
    done = run_python(START_SCRIPT, str(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    ready_s, blocking_s, left = result["started"]
    assert result["method"] == method and 0 < ready_s < 10 and left == []
    if method == "fork":
        assert 0 < blocking_s <= ready_s
    else:
        assert blocking_s == 0
    verify(tmp_path, range(400), PayloadWorkload(4096))


@pytest.mark.parametrize("method", ["fork", "forkserver"])
def test_auto_weighs_a_fork_as_start_up_the_caller_waits_through(method: str) -> None:
    """Where the caller would fork the workers, their whole start-up is weighed as time it waits (it saves
    nothing meanwhile); where a fork server makes them, as time it saves on at its own pace."""

    class Unpooled:
        pool = None

    options = _options(Unpooled(), "gain:test:start", 2, 0.5, method, {})  # type: ignore[arg-type]
    [processes] = [option for option in options if option.kind == "processes"]
    loading_s = 0.0 if "fileio.pools" in sys.modules else costs.expected_start("import")
    start_s = costs.expected_start(costs.start_kind(method))
    expected = (loading_s + start_s, 0.0) if method == "fork" else (loading_s, start_s)
    assert (processes.wait_s, processes.ready_s) == pytest.approx(expected)


STOP_SCRIPT = """
    import json, os, sys, time
    from fileio import PayloadWorkload
    from fileio.bounded import run_threads
    from fileio.job import Job
    from fileio.pools import run_batches
    from fileio.worker import save_each
    from fileio.writer import owner_token

    class Sleepy(PayloadWorkload):
        def data(self, file_id):
            time.sleep(0.002)
            return super().data(file_id)

    if __name__ == "__main__":
        saved, asked = [], []

        def keep_on():  # says no 30 ms after it is first asked
            asked.append(time.perf_counter())
            return asked[-1] - asked[0] < 0.03

        with Job(sys.argv[1], Sleepy(4096), "none", owner_token()).opened() as job:
            ids = list(range(300))
            on_saved = lambda file_id, nbytes: saved.append(file_id)
            if sys.argv[2] == "threads":
                unsaved = run_threads(job.save, ids, 2, on_saved, keep_on)
            else:
                unsaved = run_batches(save_each, job, ids, 2, on_saved, 8, keep_on).left
        print(json.dumps({"saved": saved, "unsaved": unsaved, "files": sorted(os.listdir(sys.argv[1]))}))
"""


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_helpers_told_to_stop_return_the_ids_they_did_not_save(kind: str, run_python, tmp_path: Path) -> None:
    """Once the caller's ``keep_on`` says no, helpers stop before their next file: every id is then either
    saved (and reported) or returned unsaved, never both, and no file of an unsaved id exists."""
    done = run_python(STOP_SCRIPT, str(tmp_path), kind)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    saved, unsaved = result["saved"], result["unsaved"]
    assert sorted(saved + unsaved) == list(range(300))
    assert 0 < len(saved) < 150  # stopped at ~30 ms of ~300 ms of work
    assert len(result["files"]) == len(saved)
    verify(tmp_path, saved, PayloadWorkload(4096))


@pytest.mark.parametrize(
    ("files_per_ms", "stopped_at_ms"),
    [
        pytest.param(0.0, 10.5, id="saving-nothing-stopped-once-4-ms-behind"),
        pytest.param(0.2, 10.5, id="slower-than-one-of-them-stopped-before-the-first-weighing"),
        pytest.param(0.7, 20.5, id="losing-less-stopped-at-the-first-weighing"),
        pytest.param(1.2, None, id="paying-kept-on"),
    ],
)
def test_the_watch_stops_helpers_far_behind_before_it_first_weighs_them(
    files_per_ms: float, stopped_at_ms: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two helpers watched against a caller's pace of 1 ms a file, one file each unreported, asked every 5 ms
    (off the 20 ms mark, which a float clock may read either side of): before the first weighing, only those
    4 ms behind and slower together than one of them at the caller's pace are stopped; at it, any behind."""
    now = [100.0]
    monkeypatch.setattr(auto, "perf_counter", lambda: now[0])
    watch = Watch(lambda file_id, nbytes: None, pace=0.001, helpers=2, unreported=1)
    assert watch.keep_on()  # the helpers all have work from here
    stopped_at, saved = None, 0
    for ms in (5.5, 10.5, 15.5, 20.5, 25.5, 30.5, 35.5, 40.5):
        now[0] = 100.0 + ms / 1000
        while saved < int(files_per_ms * ms):
            watch.saved(saved, 1)
            saved += 1
        if not watch.keep_on():
            stopped_at = ms
            break
    assert stopped_at == stopped_at_ms
    assert (WATCH_SECONDS, WATCH_LOSS_S) == (0.02, 0.004)  # the cases above are set around them


def test_the_first_look_waits_for_small_files_to_take_a_millisecond(tmp_path: Path) -> None:
    """The caller's pace at the first look comes from more than the first few small files, which pay for
    first touches: on a tmpfs, 4 KiB files took 6.5 us each at the eighth and 4.7 us from the hundredth."""
    times: list[float] = []
    with Job(str(tmp_path), PayloadWorkload(64), "none", owner_token()).opened() as job:
        _first_files(job, list(range(100_000)), lambda file_id, nbytes: None, times, lambda nbytes: "key")

    def look_due(files: int, seconds: float) -> bool:
        return (files >= FIRST_FILES and seconds >= FIRST_FILES_S) or seconds >= FIRST_LOOK_S

    # It looks once both hold, not before (after 8 files, in ~50 us here on a tmpfs, before this rule).
    assert look_due(len(times), sum(times))
    assert not look_due(len(times) - 1, sum(times[:-1]))
    verify(tmp_path, range(len(times)), PayloadWorkload(64))
