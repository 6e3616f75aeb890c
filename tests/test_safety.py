"""The fault matrix, continued: safe when others write too. Every strategy against a concurrent save of the
same ids, a failing neighbour, repeated interrupts, a killed caller, fsync'd names and a missing main guard.
Real processes, real signals, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import assert_nothing_partial, in_group, start_cli, wait_for_files, wait_until_gone

from fileio import STRATEGIES, PayloadWorkload, verify
from fileio.writer import is_temporary

SAVE_SCRIPT = """
    import json, resource, sys
    from fileio import STRATEGIES, PayloadWorkload, SaveError

    if __name__ == "__main__":
        name, directory, durability, first, count, size, limit, times = sys.argv[1:9]
        if int(limit):
            resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))
        outcomes = []
        for _ in range(int(times)):
            ids = range(int(first), int(first) + int(count))
            try:
                STRATEGIES[name](directory, ids, workers=2, workload=PayloadWorkload(int(size)),
                                 durability=durability)
                outcomes.append("saved")
            except SaveError as error:
                outcomes.append(str(error))
        print(json.dumps(outcomes))
"""


def start_script(
    name: str, directory: Path, durability: str, ids: range, size: int, limit: int = 0, times: int = 1
) -> subprocess.Popen[str]:
    """SAVE_SCRIPT in a fresh interpreter: ``times`` saves of ``ids``, under a file-size limit if given."""
    args = [
        name,
        str(directory),
        durability,
        str(ids.start),
        str(len(ids)),
        str(size),
        str(limit),
        str(times),
    ]
    return subprocess.Popen(
        [sys.executable, "-c", SAVE_SCRIPT.replace("\n    ", "\n"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def outcomes(process: subprocess.Popen[str]) -> list[str]:
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    return json.loads(stdout)


@pytest.mark.parametrize("durability", ["none", "atomic"])
def test_concurrent_saves_of_the_same_ids(strategy_name: str, durability: str, tmp_path: Path) -> None:
    """Two saves of the same 1,500 ids into one directory at once both succeed, and leave every file complete
    and no temporary."""
    ids, workload = range(1500), PayloadWorkload(16384)
    both = [start_script(strategy_name, tmp_path, durability, ids, workload.size) for _ in range(2)]
    assert [outcomes(process) for process in both] == [["saved"], ["saved"]]
    verify(tmp_path, ids, workload)


def test_a_failing_neighbour_leaves_a_healthy_save_alone(strategy_name: str, tmp_path: Path) -> None:
    """Twenty atomic saves that fail (a file-size limit) beside a healthy atomic save of 3,000 files in one
    directory: each failure removes only its own temporaries; the healthy save completes, byte for byte."""
    healthy = start_script(strategy_name, tmp_path, "atomic", range(3000), 8192)
    failing = start_script(
        strategy_name, tmp_path, "atomic", range(10**6, 10**6 + 10), 8192, limit=4096, times=20
    )
    failures = outcomes(failing)
    assert outcomes(healthy) == ["saved"]
    assert len(failures) == 20 and all("File too large" in failure for failure in failures), failures
    verify(tmp_path, range(3000), PayloadWorkload(8192))


SAVE_ARGS = ["save", "--files", "3000", "--workers", "2", "--size", "4KiB", "--durability", "atomic"]


@pytest.mark.parametrize(
    "presses",
    [pytest.param(["pid", "group"], id="process-then-group"), pytest.param(["group"] * 4, id="group-4x")],
)
def test_repeated_interrupts(strategy_name: str, presses: list[str], tmp_path: Path) -> None:
    """Ctrl-C again and again, to the process and its group (as `timeout -s INT` and an impatient user do):
    exit 130 within seconds, nothing partial, no temporaries, no processes left."""
    target = tmp_path / "out"
    process = start_cli(*SAVE_ARGS, "--strategy", strategy_name, str(target))
    wait_for_files(target, 50, process)
    pressed = time.monotonic()
    for press in presses:
        if press == "pid":
            os.kill(process.pid, signal.SIGINT)
        else:
            os.killpg(process.pid, signal.SIGINT)
        time.sleep(0.02)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert stderr.strip() == "fileio: interrupted"
    assert time.monotonic() - pressed < 5
    assert not wait_until_gone(lambda: in_group(process.pid)), "processes left running after Ctrl-C"
    assert_nothing_partial(target, PayloadWorkload(4096), range(3000))


INTERRUPTED_SCRIPT = """
    import faulthandler, json, os, signal, sys, threading
    from fileio import STRATEGIES, PayloadWorkload

    faulthandler.dump_traceback_later(30, exit=True)  # a hang shows where it hangs
    name, directory = sys.argv[1:3]
    seen = {"files": 0, "after_the_signal": False}

    def progress(path):
        seen["files"] += 1
        if seen["files"] == 20:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C lands here, in the middle of the save
            seen["after_the_signal"] = True

    try:
        STRATEGIES[name](directory, range(2000), workers=2, workload=PayloadWorkload(4096),
                         durability="atomic", progress=progress)
        outcome = "saved"
    except KeyboardInterrupt:
        outcome = "interrupted"
    print(json.dumps({**seen, "outcome": outcome,
                      "threads": [t.name for t in threading.enumerate() if t.name.startswith("fileio")],
                      "handler": signal.getsignal(signal.SIGINT) is signal.default_int_handler}))
"""


def test_an_interrupt_is_raised_where_the_save_can_stop(strategy_name: str, tmp_path: Path) -> None:
    """A Ctrl-C that lands in the middle of a save (here in its progress callback, elsewhere inside a pool's
    locks) is not raised there but where the save looks for it: raised inside ``concurrent.futures`` while
    it held a lock, it hung the pipeline strategy for ever. The save still stops soon, cleanly, and Python's
    handler is back."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(INTERRUPTED_SCRIPT), strategy_name, str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # where pytest runs with it ignored
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["after_the_signal"], "KeyboardInterrupt was raised where the signal landed"
    assert seen["outcome"] == "interrupted" and seen["files"] < 2000, seen
    assert seen["threads"] == [] and seen["handler"], seen
    assert_nothing_partial(tmp_path, PayloadWorkload(4096), range(2000))


FAILING_PROGRESS_SCRIPT = """
    import json, multiprocessing, sys, threading, time, faulthandler
    from fileio import STRATEGIES, PayloadWorkload

    faulthandler.dump_traceback_later(30, exit=True)  # a hang shows where it hangs
    name, directory = sys.argv[1:3]
    calls = 0

    def progress(path):
        global calls
        calls += 1
        time.sleep(0.002)  # a slow callback: the workers' news (files saved, tasks ended) piles up meanwhile
        if calls == 150:
            raise ValueError("the progress callback gave up")

    if __name__ == "__main__":
        try:
            STRATEGIES[name](directory, range(2000), workers=2, workload=PayloadWorkload(4096),
                             durability="atomic", progress=progress)
            outcome = "saved"
        except ValueError as error:
            outcome = str(error)
        print(json.dumps({"outcome": outcome, "calls": calls,
                          "threads": [t.name for t in threading.enumerate() if t.name.startswith("fileio")],
                          "children": len(multiprocessing.active_children())}))
"""


def test_a_progress_callback_that_raises_stops_the_save(strategy_name: str, tmp_path: Path) -> None:
    """The callback's exception reaches the caller, the save stops, and nothing is left: no partial file, no
    temporary, no thread or process. Raised while the caller handled a bundle of a worker's saved files, it
    lost the news behind it (a task's end) and the processes strategies waited for that end for ever."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(FAILING_PROGRESS_SCRIPT))
    target = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(script), strategy_name, str(target)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen == {"outcome": "the progress callback gave up", "calls": 150, "threads": [], "children": 0}
    assert_nothing_partial(target, PayloadWorkload(4096), range(2000))


@pytest.mark.parametrize("kill_signal", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_killed_caller_leaves_no_process_and_resume_cleans_up(
    strategy_name: str, kill_signal: int, tmp_path: Path
) -> None:
    """The caller killed mid-save: every process it started is gone within two seconds, writing nothing more;
    its stale temporaries are recognised, and `--resume` removes them and completes the save."""
    target = tmp_path / "out"
    args = ["save", "--files", "3000", "--workers", "2", "--size", "64KiB", "--durability", "atomic"]
    args += ["--strategy", strategy_name]
    process = start_cli(*args, str(target))
    wait_for_files(target, 100, process)
    os.kill(process.pid, kill_signal)
    process.communicate(timeout=30)
    assert not wait_until_gone(lambda: in_group(process.pid), timeout=2), "processes outlived their caller"
    written = sorted(os.listdir(target))
    time.sleep(0.5)
    assert sorted(os.listdir(target)) == written, "files appeared after the caller died"

    resumed = subprocess.run(
        [sys.executable, "-m", "fileio", *args, "--resume", str(target)], capture_output=True
    )
    assert resumed.returncode == 0, resumed.stderr
    verify(target, range(3000), PayloadWorkload(65536))  # no temporary left, stale or not


FSYNC_SCRIPT = """
    import json, os, sys
    from fileio import STRATEGIES, PayloadWorkload, ShardedWorkload

    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):  # records the directories the caller's process fsyncs, then really does it
        if os.path.isdir(f"/proc/self/fd/{fd}"):  # the caller saves files too, while workers start
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    if __name__ == "__main__":  # STRATEGY DIRECTORY DURABILITY [FILES_PER_DIRECTORY]
        name, directory, durability = sys.argv[1:4]
        os.fsync = recording_fsync
        workload = PayloadWorkload(100)
        if len(sys.argv) > 4:
            workload = ShardedWorkload(workload, int(sys.argv[4]))
        STRATEGIES[name](directory, range(25), workers=2, workload=workload, durability=durability)
        print(json.dumps(synced))
"""


@pytest.mark.parametrize(("durability", "synced"), [("none", False), ("fsync", True), ("atomic", True)])
def test_durable_saves_fsync_the_directory(
    strategy_name: str, durability: str, synced: bool, run_python, tmp_path: Path
) -> None:
    """fsync and atomic saves fsync the target directory once, so new names survive a crash as their data
    does; durability none does not."""
    done = run_python(FSYNC_SCRIPT, strategy_name, str(tmp_path), durability)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout).count(str(tmp_path)) == (1 if synced else 0)


UNGUARDED = """
import sys, threading, time
from fileio import STRATEGIES, PayloadWorkload

if sys.argv[3] == "with-a-thread":  # then workers cannot be forked: they re-import this program
    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
STRATEGIES[sys.argv[1]](sys.argv[2], range(50), workers=2, workload=PayloadWorkload(100))
print("saved")
"""


@pytest.mark.parametrize("threads", ["alone", "with-a-thread"])
@pytest.mark.parametrize("source", ["script", "stdin"])
def test_missing_main_guard_is_one_sentence(
    strategy_name: str, source: str, threads: str, tmp_path: Path
) -> None:
    """A script without `if __name__ == "__main__":`, or a program read on standard input: where worker
    processes would re-import it (a fork server, because another thread runs), a strategy of fileio.pools'
    workers refuses with one sentence naming the cause and the fix, before writing anything, and auto saves on
    threads instead. Forked workers re-import nothing: then every strategy saves as asked, and the top-level
    save runs once."""
    target = tmp_path / "out"
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED)
    command = [sys.executable, str(script)] if source == "script" else [sys.executable, "-"]
    done = subprocess.run(
        [*command, strategy_name, str(target), threads],
        input=UNGUARDED if source == "stdin" else None,
        capture_output=True,
        text=True,
        timeout=60,
    )
    strategy = STRATEGIES[strategy_name]
    re_imports = strategy.starts_processes and (threads == "with-a-thread" or not strategy.takes_pool)
    if not re_imports or strategy_name == "auto":
        assert done.returncode == 0 and done.stdout == "saved\n", done.stderr
        verify(target, range(50), PayloadWorkload(100))
        return
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("RuntimeError: strategy ") and '`if __name__ == "__main__":`' in last
    assert ("line 7" in last) if source == "script" else ("read from <stdin>" in last)
    assert done.stderr.count("  File ") <= 3, done.stderr  # our own frames, not a pool's traceback
    assert not target.exists()


def test_stale_temporaries_are_told_from_running_ones(tmp_path: Path) -> None:
    """A resumed save removes the temporaries of a save that died and leaves those of one still running."""
    from fileio.writer import owner_token, temporary_name

    running = Path(temporary_name(str(tmp_path / "data-0000.bin"), owner_token()))
    stale = Path(temporary_name(str(tmp_path / "data-0001.bin"), "999999999-1"))
    for temporary in (running, stale):
        temporary.write_bytes(b"partial")
    STRATEGIES["sequential"](tmp_path, range(2), workers=1, workload=PayloadWorkload(10), skip_existing=True)
    assert sorted(name for name in os.listdir(tmp_path) if is_temporary(name)) == [running.name]


def test_a_forked_process_names_its_temporaries_by_its_own_token(run_python) -> None:
    """A process reads its owner token once; a process forked from it (as workers are) has its own. In a
    fresh interpreter, which runs no other thread: Python 3.12+ warns where a process with threads forks."""
    script = """
        import json, os
        from fileio.writer import owner_alive, owner_token

        parent = owner_token()
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: its token, then out at once
            os.write(write_end, owner_token().encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as pipe:
            child = pipe.read().decode()
        os.waitpid(pid, 0)
        print(json.dumps([pid, parent, child, owner_token(), owner_alive(parent), owner_alive(child)]))
    """
    done = run_python(script)
    assert done.returncode == 0 and not done.stderr, done.stderr
    pid, parent, child, again, parent_alive, child_alive = json.loads(done.stdout)
    assert child.startswith(f"{pid}-") and child != parent == again
    assert parent_alive and not child_alive
