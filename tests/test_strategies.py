"""Every strategy saves exactly the right bytes, reports honestly, and calls progress once per file."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fileio import DURABILITIES, STRATEGIES, CsvWorkload, PayloadWorkload, verify

WORKLOADS = [
    pytest.param(CsvWorkload(n_lines=40, n_values=5), id="csv"),
    pytest.param(PayloadWorkload(20_000), id="payload"),
]
IDS = [*range(37), 12345]


def test_registry_names() -> None:
    """The registry holds exactly the documented strategies."""
    assert list(STRATEGIES) == [
        "sequential",
        "threads",
        "processes",
        "process_batches",
        "processes_threads",
        "asyncio",
        "asyncio_threads",
        "io_uring",
        "pipeline",
        "dask",
        "auto",
    ]


@pytest.mark.parametrize("durability", DURABILITIES)
@pytest.mark.parametrize("workload", WORKLOADS)
def test_saves_exact_bytes(save, workload, durability: str, tmp_path: Path) -> None:
    """Each strategy writes exactly the expected files and bytes, with every durability."""
    target = tmp_path / "nested" / "out"
    report = save(target, IDS, workers=3, workload=workload, durability=durability)
    verify(target, IDS, workload)
    assert report.files == len(IDS)
    assert report.bytes == sum(len(workload.data(file_id)) for file_id in IDS)
    assert report.paths == [target / workload.file_name(file_id) for file_id in IDS]
    assert report.seconds > 0
    assert report.mb_per_s == pytest.approx(report.bytes / 1e6 / report.seconds)


@pytest.mark.parametrize(("workers", "count"), [(1, 5), (8, 3), (2, 0)])
def test_any_pool_size_and_count(save, workers: int, count: int, tmp_path: Path) -> None:
    """One worker, more workers than files, and no files at all all work."""
    workload = PayloadWorkload(100)
    report = save(tmp_path, range(count), workers=workers, workload=workload)
    verify(tmp_path, range(count), workload)
    assert report.files == count


def test_ids_may_be_any_iterable(save, tmp_path: Path) -> None:
    """ids can be a generator, used once."""
    workload = PayloadWorkload(10)
    save(tmp_path, (file_id * 2 for file_id in range(5)), workers=2, workload=workload)
    verify(tmp_path, [0, 2, 4, 6, 8], workload)


def test_progress_once_per_file_in_callers_process(save, tmp_path: Path) -> None:
    """progress gets each saved path exactly once, in the caller's process."""
    calls: list[tuple[int, Path]] = []
    report = save(
        tmp_path,
        range(25),
        workers=2,
        workload=PayloadWorkload(1000),
        progress=lambda path: calls.append((os.getpid(), path)),
    )
    assert sorted(path for _, path in calls) == sorted(report.paths)
    assert {pid for pid, _ in calls} == {os.getpid()}


def test_bounded_memory(strategy_name: str, run_python, tmp_path: Path) -> None:
    """No process holds much more than 2 x workers files: 48 files of 4 MiB with 2 workers stay far below
    the 192 MiB that saving them all at once would need, in the caller and in every worker process. A worker's
    peak is taken above the peak of the same save of 1-byte files: what a worker holds before any file (a
    dask worker's imports: 82 MiB on Python 3.15) is not the files'."""
    script = """
        import os, resource, sys, threading, time
        from pathlib import Path
        sys.path.insert(0, sys.argv[3])
        from helpers import descendants
        from fileio import STRATEGIES, PayloadWorkload

        def peak_kib(pid):  # VmHWM: the process's peak resident memory so far
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
            return 0

        def watch(peaks, done):
            while not done.is_set():
                for pid in descendants(os.getpid()):
                    try:
                        peaks[pid] = peak_kib(pid)
                    except OSError:
                        pass
                time.sleep(0.01)

        if __name__ == "__main__":
            peaks, done = {}, threading.Event()
            watcher = threading.Thread(target=watch, args=(peaks, done))
            watcher.start()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            size = int(sys.argv[4])
            STRATEGIES[sys.argv[1]](sys.argv[2], range(48), workers=2, workload=PayloadWorkload(size))
            done.set()
            watcher.join()
            growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
            print(growth // 1024, max(peaks.values(), default=0) // 1024)
    """
    peaks = {}
    for size in (1, 4 << 20):
        done = run_python(
            script, strategy_name, str(tmp_path / str(size)), str(Path(__file__).parent), str(size)
        )
        assert done.returncode == 0, done.stderr
        peaks[size] = list(map(int, done.stdout.split()))
    caller_growth, worker_peak = peaks[4 << 20]
    assert caller_growth < 48, f"the caller grew by {caller_growth} MiB"
    above = worker_peak - peaks[1][1]
    assert above < 48, f"a worker process peaked {above} MiB above a save of 1-byte files ({worker_peak} MiB)"


@pytest.mark.parametrize("durability", ["none", "atomic"])
def test_skip_existing_saves_only_what_is_missing(save, durability: str, tmp_path: Path) -> None:
    """skip_existing leaves complete files alone and saves the rest; without atomic saves, a file whose bytes
    are wrong is not complete and is saved again."""
    workload = PayloadWorkload(300)
    save(tmp_path, range(4), workers=2, workload=workload, durability=durability)
    untouched = (tmp_path / "data-0001.bin").stat().st_mtime_ns
    (tmp_path / "data-0002.bin").write_bytes(b"torn")
    saved: list[Path] = []
    report = save(
        tmp_path,
        range(8),
        workers=2,
        workload=workload,
        durability=durability,
        skip_existing=True,
        progress=saved.append,
    )
    expected_new = {4, 5, 6, 7} | ({2} if durability == "none" else set())
    assert report.skipped == 8 - len(expected_new) and report.files == len(expected_new)
    assert sorted(saved) == sorted(tmp_path / workload.file_name(file_id) for file_id in expected_new)
    assert (tmp_path / "data-0001.bin").stat().st_mtime_ns == untouched
    if durability == "none":
        verify(tmp_path, range(8), workload)
