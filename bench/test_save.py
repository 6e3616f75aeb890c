"""Each case saves its job's files into a fresh directory per round; every round's output is verified."""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from bench import control
from bench.matrix import Case, Job, Settings
from bench.tables import Result, sequential_result
from fileio import STRATEGIES, SaveReport, expected_digests, verify


@cache
def digests(job: Job) -> dict[int, bytes]:
    """Expected digests, computed once per job and shared by every case of it."""
    return expected_digests(range(job.files), job.workload)


def test_save(
    benchmark: Any, case: Case, settings: Settings, results: dict[str, list[Result]], target_root: Path
) -> None:
    """Time one strategy on one job; fail if any round wrote wrong bytes."""
    job = case.job
    ids = range(job.files)
    options = {"workers": case.workers, "workload": job.workload, "durability": job.durability}
    reports: list[SaveReport] = []
    unchecked: list[Path] = []

    def fresh_directory() -> tuple[tuple[Path, range], dict[str, Any]]:
        directory = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=target_root))
        unchecked.append(directory)
        return (directory, ids), options

    strategy = control.save if case.is_control else STRATEGIES[case.strategy]

    def save(directory: Path, ids: range, **options: Any) -> None:
        reports.append(strategy(directory, ids, **options))

    def check_and_remove(directory: Path, *args: object, **kwargs: object) -> None:
        unchecked.remove(directory)
        try:
            verify(directory, ids, job.workload, digests(job))
        finally:
            shutil.rmtree(directory)

    benchmark.group = job.name
    benchmark.extra_info.update(case.extra_info())
    benchmark.pedantic(
        save, setup=fresh_directory, teardown=check_and_remove, rounds=settings.rounds, warmup_rounds=1
    )
    for directory in list(unchecked):  # with --benchmark-disable there is one untimed run and no teardown
        check_and_remove(directory)
    if not benchmark.disabled:
        job_results = results.setdefault(job.name, [])
        result = Result(case, benchmark.stats.stats.median, reports[-1].files, reports[-1].bytes)
        job_results.append(result)
        benchmark.extra_info.update(result.extra_info(sequential_result(job_results)))
