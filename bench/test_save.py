"""Each case is one pytest test, but its rounds are measured with the rest of its job (``bench.sweep``): at
the job's first case, every case of the job is measured sweep by sweep, every round verified byte for byte.
Each test then hands its case's rounds to pytest-benchmark, whose storage, JSON, ``--benchmark-compare`` and
history stay the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.adapter import record_rounds
from bench.control import ControlWorkload
from bench.matrix import Case, Kind, Settings
from bench.sweep import JobMeasurement, Side, measure_job
from bench.tables import Result
from fileio import Workload, verify
from fileio.verification import expected_digests

_EXPECTED: dict[tuple[Workload | ControlWorkload, int], dict[str, dict[int, bytes]]] = {}
KEPT_BYTES = 1 << 30  # a job's expected bytes up to this are kept and compared directly (5x faster)
CURRENT = "current"  # the side of this checkout's fileio; "baseline" is the one CI compares it with
MEASURED = pytest.StashKey["Measurements"]()


def expected(workload: Workload | ControlWorkload, files: int) -> dict[str, dict[int, bytes]]:
    """What ``verify`` compares a round with, made once per job (and once for its control) and shared by its
    cases: the files' bytes where they fit in ``KEPT_BYTES``, else their digests."""
    if (workload, files) not in _EXPECTED:
        contents: dict[int, bytes] = {}
        kept = 0
        for file_id in range(files):
            contents[file_id] = workload.data(file_id)
            kept += len(contents[file_id])
            if kept > KEPT_BYTES:  # too much to hold: digests instead, the memory given back at once
                contents.clear()
                _EXPECTED[workload, files] = {"digests": expected_digests(range(files), workload)}
                break
        else:
            _EXPECTED[workload, files] = {"contents": contents}
    return _EXPECTED[workload, files]


def verify_round(case: Case, directory: Path) -> None:
    """Fail the case unless the round wrote exactly its job's bytes (the control: its own bytes)."""
    job = case.job
    workload = ControlWorkload(**job.spec()) if case.kind == Kind.CONTROL else job.workload  # type: ignore[arg-type]
    verify(directory, range(job.files), workload, **expected(workload, job.files))


class Measurements:
    """Each job measured once, at its first case, with every case of it that this session runs."""

    def __init__(
        self, settings: Settings, sides: list[Side], root: Path, selected: list[Case], ceiling: Side | None
    ) -> None:
        self.settings, self.sides, self.root, self.selected, self.ceiling = (
            settings,
            sides,
            root,
            selected,
            ceiling,
        )
        self.timed = ceiling is not None
        self.jobs: dict[str, JobMeasurement] = {}
        self._by_id = {case.id: case for case in selected}

    def case(self, case_id: str) -> Case:
        return self._by_id[case_id]

    def of(self, case: Case) -> JobMeasurement:
        name = case.job.name
        if name not in self.jobs:
            cases = [other for other in self.selected if other.job.name == name]
            references: dict[str, Case] = {}  # per start: the control, else sequential
            for other in sorted(cases, key=lambda each: each.kind != Kind.CONTROL):
                if other.kind == Kind.CONTROL or other.strategy == "sequential":
                    references.setdefault(other.start, other)
            settings = self.settings
            self.jobs[name] = measure_job(
                cases, self.sides, self.root,
                min_sweeps=settings.rounds if self.timed else 1,
                max_sweeps=settings.max_rounds if self.timed else 1,
                budget_s=settings.budget_s, verify_round=verify_round,
                ceiling=self.ceiling, references=references,
                gate=settings.gate,
            )  # fmt: skip
        return self.jobs[name]


def test_save(
    benchmark: Any,
    case: Case,
    settings: Settings,
    results: dict[str, list[Result]],
    measurements: Measurements,
) -> None:
    """Time one case with the rest of its job; fail if any round wrote wrong bytes."""
    measured = measurements.of(case)
    failed = [
        entry.error for (_, case_id), entry in measured.rounds.items() if case_id == case.id and entry.error
    ]
    if failed:
        pytest.fail("\n".join(failed), pytrace=False)
    rounds = measured.rounds[CURRENT, case.id]
    benchmark.group = case.job.name
    benchmark.extra_info.update(case.extra_info())
    if benchmark.disabled:  # each case ran twice, untimed and verified: its warm-up and the job's one sweep
        benchmark.pedantic(lambda: None)
        return
    record_rounds(benchmark, rounds.seconds)
    ceilings = measured.ceilings.get(case.workers) or None
    capacities = measured.capacities.get(case.workers) or None
    result = Result(
        case,
        rounds.seconds,
        rounds.files,
        rounds.bytes,
        rounds.peak_mb,
        ceilings,
        measured.sweeps,
        capacities,
    )
    results.setdefault(case.job.name, []).append(result)
    sequential = next(
        (
            Result(other, entry.seconds, entry.files, entry.bytes, entry.peak_mb)
            for (side, case_id), entry in measured.rounds.items()
            if side == CURRENT and (other := measurements.case(case_id)).strategy == "sequential"
            and other.start == case.start
        ),
        None,
    )  # fmt: skip
    benchmark.extra_info.update(result.extra_info(sequential))


@pytest.fixture(scope="session")
def measurements(
    request: pytest.FixtureRequest,
    settings: Settings,
    sides: list[Side],
    ceiling_runner: Side | None,
    target_root: Path,
) -> Measurements:
    selected = [item.callspec.params["case"] for item in request.session.items if hasattr(item, "callspec")]
    selected = [case for case in selected if isinstance(case, Case) and case.unavailable_reason is None]
    measured = Measurements(settings, sides, target_root, selected, ceiling_runner)
    request.config.stash[MEASURED] = measured
    return measured
