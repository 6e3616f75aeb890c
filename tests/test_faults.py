"""The fault matrix: every registered strategy against disk full, file too large, a killed worker, Ctrl-C,
the open-file limit, unwritable targets and bad input. Nothing may be lost, hang or leak."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    alive,
    assert_nothing_partial,
    in_group,
    start_cli,
    wait_for_files,
    wait_until_gone,
    worker_processes,
)

import fileio
from fileio import CsvWorkload, PayloadWorkload, SaveError, verify

TESTS = Path(__file__).resolve().parent


@pytest.mark.parametrize("durability", ["none", "atomic"])
def test_disk_full(save, durability: str, tmpfs) -> None:
    """Filling a 2 MiB tmpfs raises SaveError naming the ids; atomic leaves only complete files."""
    disk = tmpfs("2m")
    workload = PayloadWorkload(100_000)
    with pytest.raises(SaveError, match="No space left on device") as raised:
        save(disk, range(60), workers=3, workload=workload, durability=durability)
    assert raised.value.failed_ids and set(raised.value.failed_ids) <= set(range(60))
    if durability == "atomic":
        assert_nothing_partial(disk, workload, range(60))


SMALL_IDS, LARGE_IDS = list(range(20)), list(range(10**6, 10**6 + 20))  # ~16 KB and ~32 KB CSV files
FILE_SIZE_LIMIT_SCRIPT = """
    import json, resource, sys
    from fileio import STRATEGIES, CsvWorkload, SaveError

    if __name__ == "__main__":
        name, directory, durability, ids = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
        resource.setrlimit(resource.RLIMIT_FSIZE, (24000, 24000))
        try:
            workload = CsvWorkload(n_lines=400)
            STRATEGIES[name](directory, ids, workers=2, workload=workload, durability=durability)
        except SaveError as error:
            print(json.dumps({"failed": error.failed_ids, "message": str(error)}))
"""


@pytest.mark.parametrize("durability", ["none", "atomic"])
def test_file_too_large(strategy_name: str, durability: str, run_python, tmp_path: Path) -> None:
    """Files over RLIMIT_FSIZE fail, named; files under it may be saved; atomic leaves nothing partial."""
    ids = SMALL_IDS + LARGE_IDS
    done = run_python(FILE_SIZE_LIMIT_SCRIPT, strategy_name, str(tmp_path), durability, json.dumps(ids))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["failed"] and set(result["failed"]) <= set(LARGE_IDS)
    assert "File too large" in result["message"]
    if durability == "atomic":
        assert_nothing_partial(tmp_path, CsvWorkload(n_lines=400), ids)


KILL_SCRIPT = """
    import json, os, signal, sys, threading, time
    sys.path.insert(0, sys.argv[3])
    from helpers import bytes_written, descendants, worker_processes
    from fileio import STRATEGIES, CsvWorkload, SaveError

    def kill_a_working_worker(news):  # one that has saved files, and so has work
        working = [pid for pid in worker_processes(os.getpid()) if bytes_written(pid) > 100_000]
        if working and "killed" not in news:
            news["seen"] = sorted(descendants(os.getpid()))
            news["killed_at"] = time.monotonic()
            os.kill(working[0], signal.SIGKILL)
            news["killed"] = working[0]

    def keep_looking(news):
        while "killed" not in news:
            kill_a_working_worker(news)
            time.sleep(0.002)

    def processes_kept_on():  # auto's draw and its watch, fixed: its workers save, to be killed
        from fileio.auto import driver
        from fileio.auto.policy import Tunables

        driver.choose = lambda guesses, *_: next(kind for kind in guesses if kind.endswith("processes"))
        driver.TUNABLES = Tunables(watch_s=60.0)

    if __name__ == "__main__":
        name, directory, _, start = sys.argv[1:5]
        os.makedirs(directory)
        news = {}
        if name == "auto":
            processes_kept_on()
        if start == "no-thread":  # a timer's signal looks, in the main thread, and sets the next one
            def look(*_):
                kill_a_working_worker(news)
                if "killed" not in news:
                    signal.setitimer(signal.ITIMER_REAL, 0.005)
            signal.signal(signal.SIGALRM, look)
            signal.setitimer(signal.ITIMER_REAL, 0.005)
        else:  # a thread looks, and so the workers come from a fork server
            threading.Thread(target=keep_looking, args=(news,), daemon=True).start()
        try:
            STRATEGIES[name](directory, range(2000), workers=2, workload=CsvWorkload(n_lines=1000))
            news["outcome"] = "completed"
        except SaveError as error:
            news["outcome"] = str(error)
            news["failed"] = len(error.failed_ids)
        signal.setitimer(signal.ITIMER_REAL, 0)  # no alarm left for the exit, when Python's handler is gone
        news["reacted_after"] = time.monotonic() - news.get("killed_at", time.monotonic())
        print(json.dumps(news))
"""


@pytest.mark.parametrize("start", ["no-thread", "a-thread"])
def test_killed_worker(process_strategy: str, start: str, run_python, tmp_path: Path) -> None:
    """SIGKILL to a working worker process mid-run: a clear error within seconds, and no process left
    behind; whether the caller runs no other thread (fileio forks its workers) or one (a fork server). A
    pipeline's worker may die between two files it made: then nothing is lost, and the others save all (the
    rest of a save, which took up to 12 s beside two CPU burners: no reaction, so not bounded in time).
    auto's policy is made to take its workers, and its watch to keep them on: what it learned from the
    earlier saves of this test process, or a loaded machine, could have it save without them."""
    done = run_python(KILL_SCRIPT, process_strategy, str(tmp_path / "out"), str(TESTS), start, timeout=60)
    assert done.returncode == 0, done.stderr
    news = json.loads(done.stdout)
    assert "killed" in news, news
    if process_strategy == "pipeline" and news["outcome"] == "completed":
        verify(tmp_path / "out", range(2000), CsvWorkload(n_lines=1000))
    else:
        assert "terminated abruptly" in news["outcome"] and news["failed"] >= 1
        assert news["reacted_after"] < 5, news
    assert not wait_until_gone(lambda: {pid for pid in news["seen"] if Path(f"/proc/{pid}").exists()})


def test_a_worker_that_died_idle_takes_no_task_and_its_share_is_saved(tmp_path: Path) -> None:
    """A worker killed after it became ready, before it is sent its task: sending to it must not raise
    (it did, BrokenPipeError, when the kill came between the caller's look at the news and the send); its
    tasks are saved by the others and the caller, and nothing fails, since it had begun none."""
    from fileio.job import Job
    from fileio.pools import Workers
    from fileio.sharing import Sharing
    from fileio.worker import save_each
    from fileio.writer import owner_token

    before = worker_processes(os.getpid())
    pool = Workers(2)
    pool.start()
    try:
        while len(pool.ready) < 2:
            pool.news(None)
        (victim, *_) = worker_processes(os.getpid()) - before
        os.kill(victim, signal.SIGKILL)
        assert not wait_until_gone(lambda: alive({victim}))
        workload, saved = PayloadWorkload(1000), []
        directory = tmp_path / "out"
        directory.mkdir()
        with Job(str(directory), workload, "none", owner_token()).opened() as job:
            Sharing(pool, 2, save_each, job, list(range(40)), lambda i, _: saved.append(i), 4, None).run()
    finally:
        pool.close()
    assert sorted(saved) == list(range(40)) and len(pool.lost) == 1
    verify(directory, range(40), workload)


def interrupt(
    args: list[str], after_files: int, directory: Path
) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``python -m fileio`` and press Ctrl-C (SIGINT to its group) once ``after_files`` files exist;
    returns the finished process (its pid is the group's id) and how long it took to stop."""
    process = start_cli(*args)
    wait_for_files(directory, after_files, process)
    pressed = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=30)
    stopped = time.monotonic() - pressed
    return subprocess.CompletedProcess(process.pid, process.returncode, stdout, stderr), stopped


def test_interrupt_then_resume(strategy_name: str, tmp_path: Path) -> None:
    """Ctrl-C mid-way through thousands of atomic saves: exit 130 within seconds, no orphan processes, no
    partial or temporary files; --resume then finishes the job without redoing what was saved."""
    target = tmp_path / "out"
    workload = PayloadWorkload(4096)
    args = ["save", "--strategy", strategy_name, "--files", "3000", "--workers", "2"]
    args += ["--size", "4KiB", "--durability", "atomic"]
    done, seconds = interrupt([*args, str(target)], after_files=50, directory=target)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "fileio: interrupted"
    assert seconds < 5
    assert not wait_until_gone(lambda: in_group(done.args)), "processes left running after Ctrl-C"
    saved = len(os.listdir(target))
    assert 0 < saved < 3000
    assert_nothing_partial(target, workload, range(3000))

    resumed = subprocess.run(
        [sys.executable, "-m", "fileio", *args, "--resume", str(target)], capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert (
        f"{3000 - saved} files" in resumed.stdout and f"({saved} already complete, skipped)" in resumed.stdout
    )
    verify(target, range(3000), workload)


def test_open_file_limit(strategy_name: str, run_python, tmp_path: Path) -> None:
    """With RLIMIT_NOFILE at 64, every strategy still saves 300 files with 8 workers."""
    script = """
        import resource, sys
        from fileio import STRATEGIES, CsvWorkload, verify

        if __name__ == "__main__":
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
            workload = CsvWorkload(n_lines=20)
            for durability in ("none", "atomic"):
                directory = f"{sys.argv[2]}/{durability}"
                STRATEGIES[sys.argv[1]](directory, range(300), workers=8, workload=workload,
                                        durability=durability)
                verify(directory, range(300), workload)
    """
    done = run_python(script, strategy_name, str(tmp_path))
    assert done.returncode == 0, done.stderr


def test_directory_under_a_regular_file(save, tmp_path: Path) -> None:
    """A target that is a regular file, or lies under one, is refused and the file is untouched."""
    regular = tmp_path / "file"
    regular.write_text("keep me")
    with pytest.raises(ValueError, match="is not a directory"):
        save(regular, range(3), workers=2)
    with pytest.raises(ValueError, match="is under .*file, which is not a directory"):
        save(regular / "sub", range(3), workers=2)
    assert regular.read_text() == "keep me"


def test_read_only_target(save, tmpfs, tmp_path: Path) -> None:
    """A read-only target fails at the first write with SaveError naming the ids; nothing is written."""
    if os.geteuid() == 0:
        target = tmpfs("1m", read_only=True)  # root ignores permission bits, not a read-only filesystem
    else:
        target = tmp_path / "read-only"
        target.mkdir(mode=0o555)
    with pytest.raises(SaveError, match=r"(Read-only file system|Permission denied)") as raised:
        save(target, range(10), workers=2, workload=PayloadWorkload(10), durability="atomic")
    assert raised.value.failed_ids
    assert not list(target.iterdir())


BAD_ARGUMENTS = [
    pytest.param({"workers": 0}, ValueError, "workers must be >= 1, got 0", id="workers-0"),
    pytest.param({"workers": -1}, ValueError, "workers must be >= 1, got -1", id="workers-negative"),
    pytest.param({"workers": 2.5}, TypeError, "workers must be an int", id="workers-float"),
    pytest.param({"ids": [1, -4]}, ValueError, "ids must be non-negative, got -4", id="negative-id"),
    pytest.param({"ids": range(-2, 3)}, ValueError, "non-negative, got -2", id="range-from-negative"),
    pytest.param({"ids": range(3, -3, -1)}, ValueError, "non-negative, got -1", id="range-down-to-negative"),
    pytest.param({"ids": [1, "2"]}, TypeError, "each id must be an int", id="str-id"),
    pytest.param({"ids": [3, 3]}, ValueError, "id 3 is given more than once", id="repeated-id"),
    pytest.param({"ids": 5}, TypeError, "ids must be an iterable of ints", id="ids-not-iterable"),
    pytest.param({"durability": "sync"}, ValueError, "durability must be one of", id="unknown-durability"),
    pytest.param({"workload": "csv"}, TypeError, "workload must have file_name", id="not-a-workload"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_ARGUMENTS)
def test_bad_arguments_write_nothing(save, change: dict, error: type, message: str, tmp_path: Path) -> None:
    """Bad arguments raise a clear ValueError or TypeError before the directory is even created."""
    arguments = {"ids": range(3), "workers": 2, "workload": PayloadWorkload(10), "durability": "none"}
    arguments.update(change)
    target = tmp_path / "out"
    with pytest.raises(error, match=message):
        save(target, **arguments)
    assert not target.exists()


def test_unknown_strategy_name() -> None:
    with pytest.raises(ValueError, match="unknown strategy 'rockets'; choose from sequential, threads"):
        fileio.get_strategy("rockets")


def test_negative_workload_size() -> None:
    with pytest.raises(ValueError, match="size must be >= 0, got -1"):
        PayloadWorkload(-1)
    with pytest.raises(ValueError, match="n_lines must be >= 1, got -1"):
        CsvWorkload(n_lines=-1)
