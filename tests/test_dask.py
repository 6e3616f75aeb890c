"""The dask strategy beyond the shared matrix: a LocalCluster's batches, progress and clean-up; a cluster
started separately (`dask scheduler` and `dask worker` processes on 127.0.0.1), used and left running; a
worker that cannot see the target directory; the strategy without dask installed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from helpers import in_group, wait_until_gone, worker_processes

from fileio import STRATEGIES, CsvWorkload, PayloadWorkload, SaveError, verify

if TYPE_CHECKING:
    from distributed import Client

REASON = STRATEGIES["dask"].unavailable_reason
needs_dask = pytest.mark.skipif(bool(REASON), reason=REASON or "")
DASK = Path(sys.executable).with_name("dask")  # the command line dask[distributed] installs
WORKLOAD = PayloadWorkload(1000)


class SeparateCluster:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, each in a session of its own, so that
    stopping one ends every process it started."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.scheduler_file = directory / "scheduler.json"
        self.processes: list[subprocess.Popen[bytes]] = []

    def _start(self, *command: str | Path) -> subprocess.Popen[bytes]:
        log = open(self.directory / f"process-{len(self.processes)}.log", "wb")  # noqa: SIM115 (Popen's)
        process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        log.close()
        self.processes.append(process)
        return process

    def start_scheduler(self) -> str:
        """Start the scheduler on a free port; returns its address."""
        import json

        self._start(DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", self.scheduler_file)  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                return json.loads(self.scheduler_file.read_text())["address"]
            except (FileNotFoundError, ValueError):  # not written yet, or half-written
                time.sleep(0.05)
        raise TimeoutError(f"dask scheduler did not start: see {self.directory}")

    def start_worker(self, name: str, *prefix: str) -> subprocess.Popen[bytes]:
        """Start one single-threaded worker (with its nanny), its command prefixed by ``prefix``."""
        return self._start(*prefix, DASK, "worker", "--scheduler-file", self.scheduler_file, "--host",
                           "127.0.0.1", "--nthreads", "1", "--no-dashboard", "--name", name)  # fmt: skip

    def client(self) -> Client:
        from distributed import Client

        return Client(scheduler_file=str(self.scheduler_file), set_as_default=False)

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Stop a process as its owner would (SIGTERM), killing its session if it lingers; nothing is left."""
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        assert not wait_until_gone(lambda: in_group(process.pid)), f"{process.args} left processes running"

    def stop_all(self) -> None:
        for process in reversed(self.processes):  # workers first, then the scheduler
            self.stop(process)


@pytest.fixture(scope="module")
def separate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SeparateCluster, str]]:
    """A separately started cluster of two workers, and its scheduler's address; torn down afterwards."""
    cluster = SeparateCluster(tmp_path_factory.mktemp("cluster"))
    try:
        address = cluster.start_scheduler()
        for name in ("one", "two"):
            cluster.start_worker(name)
        with cluster.client() as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster, address
    finally:
        cluster.stop_all()


@needs_dask
def test_existing_cluster_is_used_and_left_running(separate, tmp_path: Path) -> None:
    """with_scheduler(address) saves through that cluster's workers, in batches (4 per worker), reports each
    file in the caller, and leaves the cluster running."""
    from distributed import get_task_stream

    from fileio.strategies.dask_cluster import with_scheduler

    cluster, address = separate
    saved: list[tuple[int, Path]] = []

    def progress(path: Path) -> None:
        saved.append((os.getpid(), path))

    with cluster.client() as client, get_task_stream(client) as stream:
        report = with_scheduler(address)(
            tmp_path, range(400), workers=2, workload=WORKLOAD, progress=progress
        )
        names = {worker: info["name"] for worker, info in client.scheduler_info()["workers"].items()}
    verify(tmp_path, range(400), WORKLOAD)
    assert report.files == 400 and sorted(path for _, path in saved) == sorted(report.paths)
    assert {pid for pid, _ in saved} == {os.getpid()}
    tasks = [task for task in stream.data if task["key"].startswith("save_batch")]
    assert len(tasks) == 8 and {names[task["worker"]] for task in tasks} <= {"one", "two"}
    assert all(process.poll() is None for process in cluster.processes), "the cluster was stopped"


@needs_dask
def test_scheduler_from_the_environment(separate, monkeypatch, tmp_path: Path) -> None:
    """FILEIO_DASK_SCHEDULER, read at call time, sends the registered strategy's work to that cluster: its
    scheduler saw every file's event."""
    cluster, address = separate
    monkeypatch.setenv("FILEIO_DASK_SCHEDULER", address)
    STRATEGIES["dask"](tmp_path, range(1000, 1030), workers=2, workload=WORKLOAD, durability="atomic")
    verify(tmp_path, range(1000, 1030), WORKLOAD)
    with cluster.client() as client:
        announced = {message[1] for _, message in client.get_events("fileio-saved")}
    assert set(range(1000, 1030)) <= announced


@needs_dask
def test_each_worker_checks_it_sees_the_directory(separate, tmp_path: Path) -> None:
    """A directory that no worker can see is refused, naming each worker and the need for shared storage."""
    from fileio.strategies.dask_cluster import check_visible

    cluster, _ = separate
    with cluster.client() as client:
        workers = sorted(client.scheduler_info()["workers"])
        with pytest.raises(ValueError, match="must be on storage every worker can see") as raised:
            check_visible(client, tmp_path / "missing")
        check_visible(client, tmp_path)
    message = str(raised.value)
    assert f"{tmp_path / 'missing'} is not visible to dask worker(s) {', '.join(workers)}:" in message


def can_unshare_mounts() -> bool:
    """Whether a process may be started in a mount namespace of its own (root, outside a locked container)."""
    try:
        return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


@needs_dask
@pytest.mark.skipif(not can_unshare_mounts(), reason="needs `unshare --mount` (root)")
def test_a_worker_that_cannot_see_the_target(tmp_path: Path) -> None:
    """A worker whose filesystem differs (its own mount namespace hides the target under a tmpfs) fails the
    save before any file is written, with a ValueError naming that worker only."""
    from fileio.strategies.dask_cluster import with_scheduler

    cluster = SeparateCluster(tmp_path)
    hidden = tmp_path / "shared"
    hidden.mkdir()
    try:
        address = cluster.start_scheduler()
        cluster.start_worker("sees")
        cluster.start_worker("blind", "unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                             'mount -t tmpfs tmpfs "$0" && exec "$@"', str(hidden))  # fmt: skip
        with cluster.client() as client:
            client.wait_for_workers(2, timeout=60)
            blind = [a for a, info in client.scheduler_info()["workers"].items() if info["name"] == "blind"]
        with pytest.raises(ValueError, match=f"not visible to dask worker\\(s\\) {blind[0]}: the target"):
            with_scheduler(address)(hidden / "out", range(20), workers=2, workload=WORKLOAD)
        assert list((hidden / "out").iterdir()) == []
    finally:
        cluster.stop_all()


@needs_dask
def test_a_failing_batch_stops_the_others_and_reports_what_it_saved(tmp_path: Path) -> None:
    """On a LocalCluster of two workers, 800 CSV files in batches of 100: id 10 cannot be written. The error
    names it alone; its batch reported ids 0-9 as saved; the other three batches in flight stopped early (they
    hold 300 files, ~0.8 s each); and progress was called for exactly the files on disk, all complete."""
    workload = CsvWorkload()
    (tmp_path / workload.file_name(10)).mkdir()
    saved: list[Path] = []
    with pytest.raises(SaveError, match=r"id\(s\) 10: IsADirectoryError") as raised:
        STRATEGIES["dask"](
            tmp_path, range(800), workers=2, workload=workload, durability="atomic", progress=saved.append
        )
    assert raised.value.failed_ids == [10]
    on_disk = sorted(path for path in tmp_path.iterdir() if path.is_file())
    assert sorted(saved) == on_disk and 10 <= len(on_disk) < 110
    names = {workload.file_name(file_id): file_id for file_id in range(800)}
    assert {names[path.name] for path in on_disk} >= set(range(10))
    assert all(path.read_bytes() == workload.data(names[path.name]) for path in on_disk)


@needs_dask
def test_progress_comes_per_file_not_per_batch(tmp_path: Path) -> None:
    """Progress for a file arrives while its batch is still saving the others: one worker, four batches of 40
    CSV files (~0.3 s each); when the first file is reported, its batch has not written all 40 yet."""
    seen_on_disk: list[int] = []
    STRATEGIES["dask"](
        tmp_path, range(160), workers=1, progress=lambda path: seen_on_disk.append(len(os.listdir(tmp_path)))
    )
    assert len(seen_on_disk) == 160 and seen_on_disk[0] < 40, seen_on_disk[:3]


@needs_dask
def test_local_cluster_is_closed_afterwards(tmp_path: Path) -> None:
    """The LocalCluster's worker processes are gone once the save returns."""
    before = worker_processes(os.getpid())
    STRATEGIES["dask"](tmp_path, range(50), workers=2, workload=WORKLOAD)
    assert not wait_until_gone(lambda: worker_processes(os.getpid()) - before, timeout=5)


@needs_dask
def test_a_gone_clients_events_are_not_reported_as_critical() -> None:
    """While fileio owns a LocalCluster, its scheduler's report of an event it could not forward to a closed
    client (the last progress of stopped batches, after Ctrl-C) is left out; its other messages are not."""
    import logging

    from fileio.strategies.dask_cluster import _client

    seen: list[str] = []
    handler = logging.Handler(logging.CRITICAL)
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    scheduler_log = logging.getLogger("distributed.scheduler")
    scheduler_log.addHandler(handler)
    try:
        with _client(None, 1):
            scheduler_log.critical("Closed comm %r while trying to write %s", "comm", ["event"])
            scheduler_log.critical("something else went wrong")
        scheduler_log.critical("Closed comm %r while trying to write %s", "comm", ["later"])
    finally:
        scheduler_log.removeHandler(handler)
    assert seen == ["something else went wrong", "Closed comm 'comm' while trying to write ['later']"]


def test_batches_are_few_and_contiguous() -> None:
    """Four batches per worker, whatever the number of ids, in order and covering every id once."""
    from fileio.strategies.dask_cluster import _batches

    for count, workers in [(400, 2), (37, 3), (5, 8), (1, 1)]:
        ids = list(range(count))
        batches = _batches(ids, workers)
        assert len(batches) <= 4 * workers and [i for batch in batches for i in batch] == ids


def test_without_dask_it_is_unavailable_and_fileio_still_imports(tmp_path: Path) -> None:
    """Without site-packages (so without dask), fileio imports, and the strategy says how to install it;
    with them, importing fileio does not import dask."""
    root = Path(__file__).resolve().parents[1]
    script = "import sys, fileio; print(fileio.STRATEGIES['dask'].unavailable_reason, 'dask' in sys.modules)"
    bare = subprocess.run(
        [sys.executable, "-S", "-c", script], capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(root)},
    )  # fmt: skip
    assert bare.returncode == 0, bare.stderr
    assert bare.stdout == "strategy 'dask' needs distributed: pip install 'fileio[dask]' False\n"
    full = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root)
    assert full.returncode == 0, full.stderr
    assert full.stdout.endswith(" False\n")
