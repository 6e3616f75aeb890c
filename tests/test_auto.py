"""auto: saves in the caller from the first file, and brings in workers once the files left warrant their
start-up here; its rule on known numbers, and real saves in fresh processes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import bytes_written, worker_processes

from fileio import STRATEGIES, CsvWorkload, PayloadWorkload, WarmPool, verify
from fileio.strategies.auto import helper_count, worth_starting


@pytest.mark.parametrize(
    ("seconds_per_file", "files_left", "start_s", "expected"),
    [
        pytest.param(5e-3, 200, 0.005, True, id="csv-files-forked-workers"),
        pytest.param(2e-5, 100, 0.005, False, id="a-few-small-files"),
        pytest.param(2e-5, 4000, 0.15, False, id="small-files-fork-server"),
        pytest.param(2e-5, 4000, 0.005, True, id="many-small-files-forked"),
        pytest.param(2e-5, 10, 0.0, True, id="a-running-warm-pool"),
    ],
)
def test_workers_start_when_the_files_left_pay_for_them(
    seconds_per_file: float, files_left: int, start_s: float, expected: bool
) -> None:
    assert worth_starting(seconds_per_file, files_left, start_s) is expected


@pytest.mark.parametrize(
    ("workers", "files", "durability", "expected"),
    [(8, 1000, "none", 2), (8, 1000, "fsync", 8), (8, 3, "atomic", 3), (1, 1000, "none", 1)],
)
def test_helpers_are_bounded_by_cpus_unless_writes_wait(
    workers: int, files: int, durability: str, expected: int
) -> None:
    assert helper_count(workers, files, durability, cpus=2) == expected


SCRIPT = """
    import json, os, sys
    from fileio import STRATEGIES, CsvWorkload, PayloadWorkload

    if __name__ == "__main__":
        directory, kind, files = sys.argv[1], sys.argv[2], int(sys.argv[3])
        workload = CsvWorkload() if kind == "csv" else PayloadWorkload(4096)
        STRATEGIES["auto"](directory, range(files), workers=2, workload=workload)
        cache = os.environ["FILEIO_CACHE_DIR"]
        starts = [json.load(open(os.path.join(cache, name))) for name in os.listdir(cache)]
        print(json.dumps(starts))
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
    """A script run once: a save over in a few milliseconds starts no worker process; one of CPU-bound files
    starts them, and records how long they took to start on this machine, for the next save to weigh."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("FILEIO_CACHE_DIR", str(cache))
    done = run_python(SCRIPT, str(tmp_path / "out"), kind, str(files))
    assert done.returncode == 0, done.stderr
    starts = json.loads(done.stdout)
    if starts_workers:
        assert len(starts) == 1 and all(0 < s < 5 for times in starts[0].values() for s in times), starts
    else:
        assert starts == []
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
