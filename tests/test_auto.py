"""auto's driver, figures and kept workers, in real saves: what it saves alone and what helpers save, what it
learns for the next save, how the watch stops helpers that lose, and the workers it keeps between saves.
(The policy alone, on synthetic timings: test_auto_policy.py.)"""

from __future__ import annotations

import json
import marshal
import os
import sys
import time
from pathlib import Path
from unittest.mock import ANY

import pytest
from helpers import bytes_written, worker_processes

from fileio import STRATEGIES, CsvWorkload, PayloadWorkload, WarmPool, verify
from fileio.auto import driver
from fileio.auto.driver import Watch, _alone, _first_guesses, helper_count
from fileio.auto.figures import Figures, Key
from fileio.auto.policy import START_S, Tunables
from fileio.job import Job
from fileio.writer import owner_token

MULTI_CPU = pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="helpers cannot help on one CPU")


@pytest.mark.parametrize(
    ("workers", "files", "durability", "expected"),
    [(8, 1000, "none", 2), (8, 1000, "fsync", 8), (8, 3, "atomic", 3), (1, 1000, "none", 1)],
)
def test_helpers_are_bounded_by_cpus_unless_writes_wait(
    workers: int, files: int, durability: str, expected: int
) -> None:
    assert helper_count(workers, files, durability, cpus=2) == expected


def test_figures_keep_the_last_saves_of_a_key_and_survive_a_new_process(tmp_path: Path) -> None:
    """The store keeps what the last ``memory`` saves of each key chose and measured; written, it reads back
    the same in a new store."""
    path = str(tmp_path / "figures.txt")
    key, other = Key(1, "PayloadWorkload", 6, 5, "none", 2), Key(1, "CsvWorkload", 3, 4, "atomic", 2)
    figures = Figures(path, memory=3)
    for kind, gain in [("threads", 0.5), ("alone", 1.0), ("running processes", 1.8), ("threads", 1.2)]:
        figures.add(key, kind, gain)
    figures.add(other, "processes", 1.9)
    assert figures.gains(key) == {"alone": [1.0], "running processes": [1.8], "threads": [1.2]}  # 0.5 went
    figures.write()
    assert Figures(path, memory=3).saves == figures.saves == {key: ANY, other: [("processes", 1.9)]}


@pytest.mark.parametrize(
    "content",
    [
        b"gain\t1\tCsvWorkload\t3\t4\tnone\t2\tthreads:1.2\n",  # the text an older fileio wrote
        b"",
        marshal.dumps([((1, "CsvWorkload", 3, 4, "none", 2), [("threads", "fast")])]),
        marshal.dumps([((1, "CsvWorkload"), [])]),
        # An older fileio's, saves and start-ups, in two pairs: each a pair, as a save is.
        marshal.dumps(
            ([((1, "CsvWorkload", 3, 4, "none", 2), [("threads", 1.2)])] * 2, {"fork": 0, "import": 0})
        ),
        marshal.dumps({"threads": 1.2}),
    ],
    ids=["older-text", "empty", "a-gain-not-a-number", "a-short-key", "saves-and-starts", "a-mapping"],
)
def test_figures_a_store_cannot_read_are_none(tmp_path: Path, content: bytes) -> None:
    """A figures file of another format or shape reads as no figures, and is written over whole."""
    path = tmp_path / "figures.marshal"
    path.write_bytes(content)
    figures = Figures(str(path), memory=3)
    key = Key(1, "CsvWorkload", 3, 4, "none", 2)
    assert figures.saves == {}
    figures.add(key, "threads", 1.2)
    figures.write()
    assert Figures(str(path), memory=3).gains(key) == {"threads": [1.2]}


class SlowToMake(PayloadWorkload):
    """A payload whose bytes take 20 ms to make: far longer than writing 64 bytes, even on a busy machine."""

    def data(self, file_id: int) -> bytes:
        time.sleep(0.02)
        return super().data(file_id)


def test_the_first_two_files_give_the_share_of_writing_and_the_size(tmp_path: Path) -> None:
    """Timed in two parts, making the bytes and writing them: where making them takes 20 ms a file, writing
    is a small share of the time (a preempted write could add a few milliseconds, not twenty)."""
    with Job(str(tmp_path), SlowToMake(64), "none", owner_token()).opened() as job:
        times, write_share, nbytes = _alone(job, [0, 1], lambda *_: None)
    assert len(times) == 2 and min(times) >= 0.02 and nbytes == 128 and 0 < write_share < 0.5
    verify(tmp_path, range(2), PayloadWorkload(64))


@pytest.mark.parametrize(
    ("files_per_ms", "stopped_at_ms"),
    [
        pytest.param(0.0, 10.5, id="saving-nothing-stopped-at-watch-s"),
        pytest.param(0.7, 10.5, id="behind-stopped-at-watch-s"),
        pytest.param(1.2, None, id="ahead-kept-on"),
    ],
)
def test_the_watch_stops_helpers_behind_the_caller_alone_once_watch_s_has_passed(
    files_per_ms: float, stopped_at_ms: float | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two helpers against a caller's pace of 1 ms a file, a file's work each in flight, asked every 5 ms (off
    the 10 ms mark, which a float clock may read either side of)."""
    now = [100.0]
    monkeypatch.setattr(driver, "perf_counter", lambda: now[0])
    watch = Watch(lambda *_: None, pace=0.001, helpers=2, in_flight_s=0.002, watch_s=0.01)
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


@pytest.mark.parametrize(("files", "ms", "gain"), [(10, 20, 0.5), (15, 10, 1.5), (30, 10, 2.0), (0, 0, 1.0)])
def test_the_watch_measures_the_helpers_gain_over_the_caller_alone(
    files: int, ms: float, gain: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their gain: the files they saved once all had work, at the caller's pace of 1 ms a file, over the
    time they took, at most as many times as there are helpers (2); 1 where no time passed."""
    now = [100.0]
    monkeypatch.setattr(driver, "perf_counter", lambda: now[0])
    watch = Watch(lambda *_: None, pace=0.001, helpers=2, in_flight_s=0.002, watch_s=60.0)
    watch.saved(0, 1)  # before all had work: not counted
    watch.keep_on()
    for file_id in range(files):
        watch.saved(file_id, 1)
    now[0] += ms / 1000
    watch.keep_on()
    assert watch.gain() == pytest.approx(gain)


def test_new_workers_are_guessed_at_what_starting_them_costs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a save of such files measured them, new worker processes are guessed to save as many times as
    fast as there are of them, less what starting them costs against the caller's time alone; those of a
    running pool start at once."""
    monkeypatch.setenv("FILEIO_START_METHOD", "fork")
    job = Job(str(tmp_path), PayloadWorkload(64), "none", owner_token())
    guesses = _first_guesses(job, 2, 0.5, alone_s=0.02)
    start_s = START_S["fork"] + (0.0 if "fileio.sharing" in sys.modules else START_S["import"])
    assert guesses == {"threads": pytest.approx(4 / 3), "processes": pytest.approx(0.02 / (start_s + 0.01))}
    monkeypatch.delenv("FILEIO_START_METHOD")  # the pool's workers start as is safe here (a thread runs)
    with WarmPool(workers=2) as pool:
        running = Job(str(tmp_path), PayloadWorkload(64), "none", owner_token(), pool=pool)
        assert _first_guesses(running, 2, 0.5, alone_s=0.02)["running processes"] == 2.0


# The live child processes of a script's own process (an idle worker that exited is not reaped yet: a
# zombie is not counted); shared by the scripts below.
CHILDREN = """
    def children():
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    state, parent = stat.read().rpartition(")")[2].split()[:2]
            except OSError:
                continue
            if int(parent) == os.getpid() and state != "Z":  # an idle worker that exited is not reaped yet
                found.append(int(pid))
        return sorted(found)
"""

SCRIPT = """
    import json, os, sys
    from fileio import STRATEGIES, CsvWorkload, PayloadWorkload

{CHILDREN}
    if __name__ == "__main__":
        directory, kind, files = sys.argv[1], sys.argv[2], int(sys.argv[3])
        workload = CsvWorkload() if kind == "csv" else PayloadWorkload(4096)
        STRATEGIES["auto"](directory, range(files), workers=2, workload=workload)
        print(json.dumps(children()))
""".replace("{CHILDREN}", CHILDREN)


@MULTI_CPU
@pytest.mark.parametrize(
    ("kind", "files", "starts_workers"),
    [("payload", 8, False), ("csv", 60, True)],
    ids=["8-small-files-stay-in-the-caller", "60-csv-files-bring-in-helpers"],
)
def test_a_fresh_process(
    kind: str, files: int, starts_workers: bool, run_python, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script run once, nothing measured yet: a save over in a few milliseconds brings in no helper; one of
    CPU-bound files starts worker processes, keeps them after the save, and records what they gave, for the
    next save to weigh (at its exit)."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path / "cache"))
    done = run_python(SCRIPT, str(tmp_path / "out"), kind, str(files))
    assert done.returncode == 0, done.stderr
    [path] = (tmp_path / "cache").iterdir() if starts_workers else [None]
    if starts_workers:
        figures = Figures(str(path), memory=24)
        [saves] = figures.saves.values()
        assert saves[0][0] in ("processes", "threads") and 0 < saves[0][1] <= 2  # drawn on first guesses
        if saves[0][0] == "processes":  # almost always: their first guess, 2x, against ~1.05x
            assert len(json.loads(done.stdout)) == 2  # kept after the save, until the script exits
    else:
        assert json.loads(done.stdout) == []
    verify(tmp_path / "out", range(files), CsvWorkload() if kind == "csv" else PayloadWorkload(4096))


def test_auto_saves_on_a_running_warm_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a running WarmPool, auto's worker processes are the pool's: they write the files, and stay up.
    The policy's draw is random and the watch stops helpers that fall behind on a loaded machine, so here
    the policy takes the pool and the watch keeps it on: the test is of the save, not of the choice."""

    monkeypatch.setattr(driver, "choose", lambda guesses, *_: "running processes")
    monkeypatch.setattr(driver, "TUNABLES", Tunables(watch_s=60.0))
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


START_SCRIPT = """
    import json, sys, time
    from fileio import PayloadWorkload
    from fileio.start import start_method
    from fileio.job import Job
    from fileio.sharing import run_batches
    from fileio.worker import save_each
    from fileio.writer import owner_token

    class Sleepy(PayloadWorkload):
        def data(self, file_id):
            time.sleep(0.001)  # long enough a save for a fork server's workers to get ready
            return super().data(file_id)

    if __name__ == "__main__":
        with Job(sys.argv[1], Sleepy(4096), "none", owner_token()).opened() as job:
            started = run_batches(save_each, job, list(range(400)), 2, lambda *_: None)
        print(json.dumps({"method": start_method(), "started": started}))
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


STOP_SCRIPT = """
    import json, os, sys, time
    from fileio import PayloadWorkload
    from fileio.bounded import run_threads
    from fileio.job import Job
    from fileio.sharing import run_batches
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


WATCH_SCRIPT = """
    import json, os, sys, threading, time
    from fileio import STRATEGIES, PayloadWorkload
    from fileio.auto import driver
    from fileio.auto.figures import Key, store

    class Timed(PayloadWorkload):
        # Making a file's bytes takes 1 ms in the caller, and sleep_s on helpers (where they lose), or as
        # long everywhere (where they win, sleeping in parallel).
        def data(self, file_id):
            on_caller = os.getpid() == caller and threading.current_thread() is threading.main_thread()
            time.sleep(0.001 if on_caller and sys.argv[3] == "on-helpers" else float(sys.argv[5]))
            if on_caller:
                by_caller.append(file_id)
            return super().data(file_id)

    if __name__ == "__main__":
        directory, kind, files = sys.argv[1], sys.argv[2], int(sys.argv[4])
        caller, by_caller = os.getpid(), []
        workload = Timed(4096)
        key = Key.of(directory, workload, 4096, files - 2, "none", 2)  # after the first two files
        figures = store(driver.TUNABLES.memory)
        other = "processes" if kind == "threads" else "threads"
        for _ in range(12):  # earlier saves "knew" these helpers to pay here, the others not to
            figures.add(key, kind, 3.0)
            figures.add(key, other, 0.5)
        STRATEGIES["auto"](directory, range(files), workers=2, workload=workload)
        print(json.dumps({"by_caller": by_caller, "last": figures.gains(key)[kind][-1]}))
"""


@MULTI_CPU
@pytest.mark.parametrize(
    ("kind", "slow", "files", "sleep_s"),
    # Sleeps long beside what a busy machine takes from a thread: with 0.5-5 ms, beside a parallel tox run
    # or two CPU burners, a short span read < 1x where threads win, or > 1x where they lose.
    [
        ("threads", "on-helpers", 40, 0.05),
        ("processes", "on-helpers", 150, 0.05),
        ("threads", "everywhere", 100, 0.02),
    ],
)
def test_helpers_are_watched(kind: str, slow: str, files: int, sleep_s: float, run_python, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Where the figures say helpers pay, auto brings them in, watched. Where they turn out slower than the
    caller alone, they stop before their next file, the caller takes the rest back, and the loss is what the
    next save weighs; where they pay, they save the rest, and what they gave is kept."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "out").mkdir()
    done = run_python(WATCH_SCRIPT, str(tmp_path / "out"), kind, slow, str(files), str(sleep_s))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    on_helpers = sorted(set(range(files)) - set(result["by_caller"]))
    assert sorted(result["by_caller"]) == sorted(set(result["by_caller"])) and on_helpers
    if slow == "on-helpers":
        # Stopped once watch_s has passed (they saved 2-4 files here), and the caller saves the rest.
        assert len(on_helpers) <= files // 4 and len(result["by_caller"]) == files - len(on_helpers)
        assert result["last"] < 1  # the loss, for the next save to weigh
    else:
        assert len(on_helpers) > 0.8 * files and result["last"] > 1
    verify(tmp_path / "out", range(files), PayloadWorkload(4096))


KEPT_SCRIPT = """
    import json, os, sys, time
    from fileio import STRATEGIES, CsvWorkload, SaveError
    from fileio.auto import driver
    from fileio.auto.figures import Key, store
    from fileio.auto.policy import Tunables

{CHILDREN}
    if __name__ == "__main__":
        directory, step = sys.argv[1], sys.argv[2]
        # Helpers are not stopped by the watch; check_s decides who saves id 390: a long check (12 files, the
        # most) puts it in the caller's part, a short one (1 file) in a worker's.
        driver.TUNABLES = Tunables(keep_idle_s=float(sys.argv[3]), check_s=float(sys.argv[4]), watch_s=60.0)
        workload = CsvWorkload(n_lines=500)
        key, figures = Key.of(directory, workload, 30000, 198, "none", 2), store(24)
        for _ in range(8):  # processes known to pay, threads to lose: processes every save
            figures.add(key, "processes", 1.9)
            figures.add(key, "running processes", 1.9)
            figures.add(key, "threads", 0.8)
        def save(first):
            STRATEGIES["auto"](directory, range(first, first + 200), workers=2, workload=workload)

        save(0)
        seen = {"first": children()}
        if step == "again":
            save(200)
            seen["second"] = children()
        elif step == "idle":
            time.sleep(1.5)
            seen["idle"] = children()
            save(200)
            seen["second"] = children()
        elif step == "fork":
            child = os.fork()
            if child == 0:  # the child saves with workers of its own, and exits
                save(1000)
                os._exit(0 if len(os.listdir(directory)) >= 400 else 1)
            started = time.monotonic()
            seen["child_status"], seen["child_s"] = os.waitpid(child, 0)[1], 0.0
            seen["child_s"] = time.monotonic() - started
            save(200)
            seen["second"] = children()
        elif step.startswith("fail"):
            os.mkfifo(os.path.join(directory, workload.file_name(390)))
            try:
                save(200)
            except SaveError as error:
                seen["failed"] = error.failed_ids
            time.sleep(0.2)
            seen["second"] = children()
        print(json.dumps(seen), flush=True)
""".replace("{CHILDREN}", CHILDREN)


@MULTI_CPU
@pytest.mark.parametrize("step", ["again", "idle", "fork", "fail-in-a-worker", "fail-in-the-caller"])
def test_workers_are_kept_between_saves(step: str, run_python, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A running program's next save uses the workers its last one started; they exit after keep_idle_s
    without a save (and the next starts others); a forked child does not use them, nor waits on them; a
    failed save stops them, where a worker failed and where the caller did. The program exits without waiting
    on them, and leaves none behind."""
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(tmp_path / "cache"))
    started = time.monotonic()
    check_s = "1.0" if step == "fail-in-the-caller" else "1e-9"
    done = run_python(KEPT_SCRIPT, str(tmp_path), step, "1.0" if step == "idle" else "300", check_s)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert len(seen["first"]) == 2
    if step in ("again", "fork"):
        assert seen["second"] == seen["first"]
    if step == "fork":
        assert seen["child_status"] == 0 and seen["child_s"] < 5
    if step == "idle":
        assert seen["idle"] == [] and len(seen["second"]) == 2 and seen["second"] != seen["first"]
    if step.startswith("fail"):
        assert seen["failed"] == [390] and seen["second"] == []
    assert time.monotonic() - started < 30
    assert not any(Path(f"/proc/{pid}").exists() for pids in seen.values() if isinstance(pids, list)
                   for pid in pids if pid != 390)  # fmt: skip
