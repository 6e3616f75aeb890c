"""fileio.WarmPool: process_batches whose workers stay up between saves, as safe as any strategy."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import alive, assert_nothing_partial, in_group, wait_until_gone, worker_processes
from test_errors import Explosive

from fileio import PayloadWorkload, SaveError, WarmPool, verify

WORKLOAD = PayloadWorkload(3000)


def test_saves_reuse_the_same_workers(tmp_path: Path) -> None:
    """Two saves into two directories: exact bytes in both, done by the same two worker processes, which are
    gone once the pool is closed."""
    with WarmPool(workers=2) as pool:
        started = worker_processes(os.getpid())
        assert len(started) == 2
        first = pool.save(tmp_path / "a", range(50), workload=WORKLOAD, durability="atomic")
        second = pool.save(tmp_path / "b", range(50, 90), workload=WORKLOAD)
        assert worker_processes(os.getpid()) == started
    assert (first.files, second.files) == (50, 40)
    verify(tmp_path / "a", range(50), WORKLOAD)
    verify(tmp_path / "b", range(50, 90), WORKLOAD)
    assert not wait_until_gone(lambda: started & worker_processes(os.getpid()))


def test_a_failed_save_stops_its_workers_and_the_next_one_starts_fresh(tmp_path: Path) -> None:
    """A save that fails names the failed id and leaves nothing partial; its workers are stopped, so nothing
    of it is written later, and the next save runs on new workers."""
    explosive = Explosive(n_lines=5)
    with WarmPool(workers=2) as pool:
        started = worker_processes(os.getpid())
        with pytest.raises(SaveError, match=r"id\(s\) 7: RuntimeError"):
            pool.save(tmp_path / "failed", range(40), workload=explosive, durability="atomic")
        assert not started & worker_processes(os.getpid())
        assert_nothing_partial(tmp_path / "failed", explosive, range(40))
        report = pool.save(tmp_path / "next", range(40), workload=WORKLOAD)
        assert report.files == 40 and not started & worker_processes(os.getpid())
    verify(tmp_path / "next", range(40), WORKLOAD)


def test_a_worker_killed_between_saves_is_replaced(tmp_path: Path) -> None:
    """A worker that died while the pool was idle (the OOM killer, say) does not fail the next save."""
    with WarmPool(workers=2) as pool:
        victim = min(worker_processes(os.getpid()))
        os.kill(victim, signal.SIGKILL)
        assert not wait_until_gone(lambda: alive({victim}))
        pool.save(tmp_path, range(30), workload=WORKLOAD, durability="fsync")
    verify(tmp_path, range(30), WORKLOAD)


def test_resume_on_a_warm_pool(tmp_path: Path) -> None:
    """skip_existing works as for every strategy: only the missing files are saved."""
    with WarmPool(workers=2) as pool:
        pool.save(tmp_path, range(0, 30, 2), workload=WORKLOAD)
        report = pool.save(tmp_path, range(30), workload=WORKLOAD, skip_existing=True)
    assert (report.files, report.skipped) == (15, 15)
    verify(tmp_path, range(30), WORKLOAD)


def test_bad_worker_count_is_refused() -> None:
    """A pool size below one is refused when the pool is made, as a strategy's workers are."""
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        WarmPool(workers=0)


IDLE_POOL = """
import sys, time
from fileio import PayloadWorkload, WarmPool

if __name__ == "__main__":
    with WarmPool(workers=2) as pool:
        pool.save(sys.argv[1], range(10), workload=PayloadWorkload(100))
        print("saved", flush=True)
        time.sleep(60)
"""


def test_a_killed_caller_takes_its_idle_pool_with_it(tmp_path: Path) -> None:
    """SIGKILL of a program holding a warm pool between saves: its workers and fork server are gone within
    two seconds (they watch their caller; nothing else would stop them)."""
    script = tmp_path / "idle_pool.py"
    script.write_text(IDLE_POOL)
    program = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert program.stdout is not None and program.stdout.readline() == "saved\n"
    assert len(worker_processes(program.pid)) == 2
    os.kill(program.pid, signal.SIGKILL)
    program.wait(timeout=10)
    assert not wait_until_gone(lambda: in_group(program.pid), timeout=2), "processes outlived their caller"
