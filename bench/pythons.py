"""Pythons side by side (``pytest bench/ --fileio-python PATH``): each interpreter is one more side of the
same sweeps (``bench.sweep``), every case on every side in every sweep in a random order, so that a drifting
machine falls on all alike. Per job and start it answers which Python saves fastest: the Python whose own
verdict case took least, against that case on every other Python, sweep by sweep. And it names every case
that one Python runs clearly slower than another: its paired interval, at ``SLOWER_CONFIDENCE``, lies
wholly above ``1 + SLOWER_MARGIN``, so that an interpreter given twice is not named, although a run compares
many cases (a real slowdown of 15 % is, where the sweeps narrow its interval enough: docs/benchmark.md says
how often); a job with fewer than ``PYTHONS_MIN_SWEEPS`` sweeps makes no such call, and its line says its
sweeps were too few (a run with other Pythons sweeps that often unless ``--fileio-rounds`` says otherwise).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any

import numpy as np

from bench.matrix import PYTHONS_MIN_SWEEPS, Start
from bench.stats import CONFIDENCE, bootstrap_interval, same_sweeps, typical_ratio
from bench.tables import Result
from bench.verdict import QUESTIONS, RESAMPLES, read_cases, verdicts
from bench.verdict import label as case_label

SLOWER_CONFIDENCE = 0.99
SLOWER_MARGIN = 0.05


@dataclass(frozen=True)
class Comparison:
    """One case on two Pythons: the second's time over the first's, typical per sweep, with its interval
    (above 1: the first is faster), over ``sweeps`` sweeps."""

    case: str
    first: str
    second: str
    ratio: float
    low: float
    high: float
    sweeps: int


@dataclass(frozen=True)
class PythonsVerdict:
    """Per job and start: the fastest Python and its case against each other Python, and the clear losses."""

    job: str
    start: Start
    fastest: str
    case: str
    against: list[Comparison]
    slower: list[Comparison]  # each with the faster Python first


def _compare(
    case: str, first: str, second: str, sides: dict[str, dict[str, Result]], confidence: float
) -> Comparison:
    slow, fast = same_sweeps(sides[second][case].rounds, sides[first][case].rounds)
    ratio = float(typical_ratio(slow, fast))
    low, high = ratio, ratio
    if len(slow) >= 3:
        low, high = bootstrap_interval(
            (slow, fast), typical_ratio, RESAMPLES, paired=True, confidence=confidence
        )
    return Comparison(case, first, second, ratio, low, high, len(slow))


def _clearly_slower(
    case: str, one: str, other: str, sides: dict[str, dict[str, Result]]
) -> Comparison | None:
    """The comparison, faster Python first, where one of the two is clearly slower on ``case``."""
    if min(len(sides[one][case].rounds), len(sides[other][case].rounds)) < PYTHONS_MIN_SWEEPS:
        return None
    for first, second in ((one, other), (other, one)):
        comparison = _compare(case, first, second, sides, SLOWER_CONFIDENCE)
        if comparison.low > 1 + SLOWER_MARGIN:
            return comparison
    return None


def compare(runs: dict[str, dict[str, Any]]) -> list[PythonsVerdict]:
    """``runs``: each Python's label and its run as pytest-benchmark saves it (the same sweeps on all)."""
    cases = {
        label: {
            (job.name, start): {case_label(case): case for case in group}
            for (job, start), group in read_cases(run).items()
        }
        for label, run in runs.items()
    }
    chosen = {label: {(v.job, v.start): v.fastest for v in verdicts(run)} for label, run in runs.items()}
    found = []
    for key in next(iter(cases.values())):
        sides = {label: by_key[key] for label, by_key in cases.items() if key in by_key}
        if len(sides) < 2:
            continue
        fastest = min(sides, key=lambda label: float(np.median(sides[label][chosen[label][key]].rounds)))
        case = chosen[fastest][key]
        against = [
            _compare(case, fastest, label, sides, CONFIDENCE)
            for label in sides
            if label != fastest and case in sides[label]
        ]
        common = set.intersection(*(set(by_name) for by_name in sides.values()))
        slower = [
            comparison
            for name in sorted(common)
            for one, other in combinations(sides, 2)
            if (comparison := _clearly_slower(name, one, other, sides)) is not None
        ]
        found.append(PythonsVerdict(key[0], key[1], fastest, case, against, slower))
    return found


def lines(found: list[PythonsVerdict]) -> list[str]:
    """One line per job, start and other Python; then each clear loss."""
    out = ["fileio pythons (which saves fastest: each job's fastest case on every Python, sweep by sweep):"]
    for verdict in found:
        for comparison in verdict.against:
            if comparison.sweeps < PYTHONS_MIN_SWEEPS:  # an interval over so few says too little
                noise = f", {comparison.sweeps} sweeps: too few to tell them apart"
            else:
                noise = ", within noise" if comparison.low <= 1 <= comparison.high else ""
            interval = f"{CONFIDENCE:.0%} CI {comparison.low:.2f}-{comparison.high:.2f}{noise}"
            out.append(
                f"{verdict.job}, {QUESTIONS[verdict.start]}: {comparison.first} {comparison.ratio:.2f}x "
                f"{comparison.second} ({interval}) with {comparison.case}"
            )
        for comparison in verdict.slower:
            out.append(
                f"  slower: {comparison.second} on {comparison.case} ({verdict.job}, {verdict.start}), "
                f"{comparison.ratio:.2f}x {comparison.first}'s time "
                f"({SLOWER_CONFIDENCE:.0%} CI {comparison.low:.2f}-{comparison.high:.2f})"
            )
    return out


def as_json(found: list[PythonsVerdict]) -> list[dict[str, Any]]:
    return [asdict(verdict) for verdict in found]


def main() -> None:
    """``python -m bench.pythons TOXWORKDIR [PYTEST ARGS]``: the benchmark suite on this Python and beside it
    every Python tox built there (each ``py3*`` env's interpreter), as ``tox -e pythons`` runs it."""
    import glob
    import sys

    import pytest

    here = os.path.realpath(sys.executable)
    found = sorted(glob.glob(os.path.join(sys.argv[1], "py3*", "bin", "python")))
    others = [python for python in found if os.path.realpath(python) != here]
    options = [option for python in others for option in ("--fileio-python", python)]
    raise SystemExit(pytest.main(["bench/", *options, *sys.argv[2:]]))


if __name__ == "__main__":
    main()
