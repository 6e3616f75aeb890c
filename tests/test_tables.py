"""The end-of-run tables (bench/tables.py), from known rounds."""

from __future__ import annotations

from typing import Any

import pytest

from bench.matrix import Case, Job
from bench.tables import Result, job_table

GAVE = [1.90, 1.95, 1.88, 1.93, 1.97, 1.91]  # what 2 workers made of bytes, x one's, in each of six sweeps
CASE = Case("processes", 2, Job.csv(24, "none"))


def compared(capacities: list[float]) -> dict[str, dict[str, Any]]:
    """A compared run (--benchmark-compare) of the one case, its ceiling having measured ``capacities``."""
    info = {"job": "csv-none", "workers": 2, "capacity_rounds": capacities, "speedup": 1.5}
    return {CASE.id: {"stats": {"median": 0.5}, "extra_info": info}}


@pytest.mark.parametrize(
    ("then", "said"),
    [
        pytest.param([value * 1.25 for value in GAVE], "more than the noise", id="host-gave-less-now"),
        pytest.param(GAVE[::-1], "within the noise", id="unchanged"),
    ],
)
def test_the_table_says_what_the_machine_gave_against_the_compared_run(then: list[float], said: str) -> None:
    """Beside --benchmark-compare's columns, what the machine gave the job's workers in each run, and
    whether that differs by more than the noise."""
    result = Result(CASE, [0.5] * 6, 24, 10**6, None, None, 6, GAVE)
    heading, *lines = [line for line, _ in job_table("csv-none", [result], compared(then))]
    assert "the machine gave 2 workers 1.92x one's speed" in heading
    [note] = [line for line in lines if line.startswith("(csv-none: the machine gave")]
    assert said in note and "1.92x" in note


def test_no_compared_run_no_note() -> None:
    result = Result(CASE, [0.5] * 6, 24, 10**6, None, None, 6, GAVE)
    assert not any("compared run" in line for line, _ in job_table("csv-none", [result], None))
