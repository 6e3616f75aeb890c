"""Each case saves its job's files into a fresh directory per round; every round's output is verified."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path

import control

from fileio import STRATEGIES, Workload, verify
from fileio.gate import CONTROLS
from fileio.verify import expected_digests


@cache
def digests(workload: Workload, files: int) -> dict[int, bytes]:
    """Expected digests, computed once per job and shared by every case of it."""
    return expected_digests(range(files), workload)


def test_save(benchmark, case, settings, target_root: Path) -> None:
    """Time one strategy on one job; fail if any round wrote wrong bytes."""
    job = case.job
    ids = range(job.files)
    options = {"workers": case.workers, "workload": job.workload, "durability": job.durability}
    reports = []
    unchecked: list[Path] = []

    def fresh_directory():
        directory = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=target_root))
        unchecked.append(directory)
        return (directory, ids), options

    strategy = control.save if case.strategy in CONTROLS else STRATEGIES[case.strategy]

    def save(directory: Path, ids: range, **options) -> None:
        reports.append(strategy(directory, ids, **options))

    def check_and_remove(directory: Path, *args, **kwargs) -> None:
        unchecked.remove(directory)
        try:
            verify(directory, ids, job.workload, digests(job.workload, job.files))
        finally:
            shutil.rmtree(directory)

    benchmark.group = job.name
    benchmark.pedantic(
        save, setup=fresh_directory, teardown=check_and_remove, rounds=settings.rounds, warmup_rounds=1
    )
    for directory in list(unchecked):  # with --benchmark-disable there is one untimed run and no teardown
        check_and_remove(directory)
    if not benchmark.disabled:
        settings.record(case, benchmark.stats.stats.median, reports[-1], benchmark.extra_info)
