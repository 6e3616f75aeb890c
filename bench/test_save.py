"""Each case saves its job's files into a fresh directory per round; every round's output is verified. The
warm-up round is also sampled for memory; each case gets its ceiling (bench.ceiling) where fileio has one."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import fileio
from bench import control
from bench.ceiling import Ceilings
from bench.matrix import WARM, Case, Settings
from bench.memory import PeakMemory
from bench.tables import Result, sequential_result
from fileio import STRATEGIES, SaveReport, Workload, expected_digests, verify

_DIGESTS: dict[tuple[Workload, int], dict[int, bytes]] = {}


def digests(workload: Workload, files: int) -> dict[int, bytes]:
    """Expected digests, computed once per job (and once for its control) and shared by its cases."""
    if (workload, files) not in _DIGESTS:
        _DIGESTS[workload, files] = expected_digests(range(files), workload)
    return _DIGESTS[workload, files]


def test_save(
    benchmark: Any,
    case: Case,
    settings: Settings,
    results: dict[str, list[Result]],
    target_root: Path,
    ceilings: Ceilings | None,
    worker_machinery: None,
) -> None:
    """Time one strategy on one job; fail if any round wrote wrong bytes."""
    job = case.job
    ceiling_s = ceilings.seconds(case) if ceilings is not None else None  # measured at the job's first case
    ids = range(job.files)
    options: dict[str, Any] = {"workload": job.workload, "durability": job.durability}
    expected = control.ControlWorkload(job.workload) if case.is_control else job.workload
    reports: list[SaveReport | control.ControlReport] = []
    unchecked: list[Path] = []

    def fresh_directory() -> tuple[tuple[Path, range], dict[str, Any]]:
        directory = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=target_root))
        unchecked.append(directory)
        return (directory, ids), options

    warm_pool = fileio.WarmPool(case.workers) if case.strategy == WARM else None
    strategy: Callable[..., SaveReport | control.ControlReport]
    if warm_pool is not None:
        warm_pool.start()  # before the clock: what the case measures is a save on a running pool
        strategy = warm_pool.save  # its workers are the pool's
    else:
        strategy = control.save if case.is_control else STRATEGIES[case.strategy]
        options["workers"] = case.workers
    memory = PeakMemory()

    def save(directory: Path, ids: range, **options: Any) -> None:
        # Only the first call is sampled: the warm-up round (pytest-benchmark's pedantic runs setup, target
        # and teardown for it too), or the one untimed call with --benchmark-disable; never a timed round.
        with memory if not reports else nullcontext():
            reports.append(strategy(directory, ids, **options))

    def check_and_remove(directory: Path, *args: object, **kwargs: object) -> None:
        unchecked.remove(directory)
        try:
            verify(directory, ids, expected, digests(expected, job.files))
        finally:
            shutil.rmtree(directory)

    benchmark.group = job.name
    benchmark.extra_info.update(case.extra_info())
    try:
        benchmark.pedantic(
            save, setup=fresh_directory, teardown=check_and_remove, rounds=settings.rounds, warmup_rounds=1
        )
    finally:
        if warm_pool is not None:
            warm_pool.close()
    for directory in list(unchecked):  # with --benchmark-disable there is one untimed run and no teardown
        check_and_remove(directory)
    if not benchmark.disabled:
        job_results = results.setdefault(job.name, [])
        median = benchmark.stats.stats.median
        result = Result(case, median, reports[-1].files, reports[-1].bytes, memory.mb, ceiling_s)
        job_results.append(result)
        benchmark.extra_info.update(result.extra_info(sequential_result(job_results)))
