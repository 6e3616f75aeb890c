"""Pythons side by side (bench/pythons.py), from synthetic runs of the same sweeps: which Python saves
fastest, and which cases one Python runs clearly slower than another, with no call where two sides are the
same."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from test_verdict import bench

from bench.matrix import PYTHONS_MIN_SWEEPS
from bench.pythons import SLOWER_MARGIN, compare, lines

CASES = {"sequential-w1": 1.0, "threads-w2": 0.9, "processes-w2": 0.62, "process_batches-w2": 0.6}
SWEEPS = 30


def runs(
    slower: dict[str, dict[str, float]], seed: int, noise: float = 0.05, sweeps: int = SWEEPS
) -> dict[str, dict[str, Any]]:
    """Two Pythons' runs of one job over the same sweeps: every round the case's time, times what the machine
    did in that sweep (shared), times a round's own noise; ``slower``: per Python, cases made slower."""
    rng = random.Random(seed)
    machine = [rng.uniform(0.7, 1.5) for _ in range(sweeps)]  # drifts a lot: it falls on every side alike
    out = {}
    for label in ("python3.11", "python3.14"):
        factors = slower.get(label, {})
        benchmarks = [
            bench(name, [median * factors.get(name, 1.0) * m * rng.lognormvariate(0, noise) for m in machine])
            for name, median in CASES.items()
        ]
        out[label] = {"fileio": {"profile": "quick"}, "benchmarks": benchmarks}
    return out


def test_the_faster_python_is_named_with_its_case() -> None:
    """3.11 is 10 % slower on everything: 3.14 is named, with its fastest case and an interval above 1."""
    slow = {name: 1.10 for name in CASES}
    (verdict,) = compare(runs({"python3.11": slow}, seed=1))
    assert (verdict.fastest, verdict.case) == ("python3.14", "process_batches w2")
    (against,) = verdict.against
    assert against.second == "python3.11" and 1.05 < against.ratio < 1.15 and against.low > 1
    assert re.fullmatch(
        r"csv-none, in a running program: python3\.14 1\.[01]\dx python3\.11 \(95% CI 1\.\d\d-1\.\d\d\) "
        r"with process_batches w2",
        lines([verdict])[1],
    )


@pytest.mark.parametrize("seed", range(10))
def test_a_case_15_percent_slower_is_named_and_nothing_else(seed: int) -> None:
    """One strategy 15 % slower on one Python: named slower, 10 runs in 10; no other case named."""
    (verdict,) = compare(runs({"python3.14": {"threads-w2": 1.15}}, seed=seed))
    assert [(c.second, c.case) for c in verdict.slower] == [("python3.14", "threads w2")]
    assert verdict.slower[0].low > 1 + SLOWER_MARGIN


@pytest.mark.parametrize("seed", range(10))
def test_unchanged_pythons_are_never_called_slower(seed: int) -> None:
    """The same interpreter twice: no case named slower, 10 runs in 10, though four cases are compared."""
    (verdict,) = compare(runs({}, seed=100 + seed))
    assert verdict.slower == []
    assert all(c.low <= 1 <= c.high for c in verdict.against)


def test_too_few_sweeps_make_no_case_by_case_call() -> None:
    """Four sweeps (a CSV job's, with two Pythons, in the default budget) are too few to call a case slower,
    even one 30 % slower; the job's line still compares the fastest case, and says its sweeps were too few to
    tell the Pythons apart (an interpreter given twice read 1.08x itself, 95 % CI 1.04-1.15, over 5)."""
    sweeps = PYTHONS_MIN_SWEEPS - 1
    (verdict,) = compare(runs({"python3.14": {"threads-w2": 1.30}}, seed=3, sweeps=sweeps))
    assert verdict.slower == [] and verdict.against
    line = lines([verdict])[1]
    assert line.endswith(f", {sweeps} sweeps: too few to tell them apart) with process_batches w2"), line
