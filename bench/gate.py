"""The regression gate: compare two benchmark runs case by case, each relative to its own run's control.

A case's *ratio*, in each sweep, is its time over the control's time in the same sweep (plain writes, no
fileio strategy, started alike: warm or cold), so whatever the machine did during that sweep falls on both and
cancels. A case has regressed when its typical ratio (``bench.stats``: a trimmed mean over the sweeps) grew
by more than the threshold *and* the change is significant: the bootstrap confidence interval of that change,
over the sweeps of both runs, lies wholly above zero. When both runs come from the same sweeps
(``--fileio-baseline``: the baseline's round of a case and the new one's ran back to back in every sweep), the
two are compared directly, sweep by sweep: the change is the typical per-sweep ratio new / baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import capacity
from bench.matrix import DEFAULT_GATE_THRESHOLD, Kind, saved_kind
from bench.stats import CONFIDENCE, TRIM, bootstrap_interval, log_change, same_sweeps, typical_log

RESAMPLES = 4000


class GateInputError(Exception):
    """The runs cannot be compared; the message says why in one line."""


@dataclass(frozen=True)
class Run:
    """One side of a comparison: every case's per-sweep log ratios to its control, from one or more runs."""

    profile: str
    log_ratios: dict[str, list[float]]  # case id -> log(case / control) of each sweep, runs pooled
    rounds: dict[str, list[float]]  # case id -> its rounds, in sweep order (one run only: else empty)
    session: str | None  # the measuring session of a single run: two sides of one session share sweeps
    # Job -> the largest pool size whose parallel capacity the runs measured, and its per-sweep capacities.
    capacities: dict[str, tuple[int, list[float]]] = field(default_factory=dict)


def run_from_json(data: object, source: str) -> Run:
    """A run from pytest-benchmark's JSON (as saved by ``pytest bench/``); ``source`` names it in errors."""
    return _pooled([(data, source)], source)


def load_run(path: str | Path) -> Run:
    """A run from a pytest-benchmark JSON file, or the pooled sweeps of every JSON file in a directory."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise GateInputError(f"{path}: no JSON files in this directory")
    elif path.is_file():
        files = [path]
    else:
        raise GateInputError(f"{path}: no such file or directory")
    runs = []
    for file in files:
        try:
            runs.append((json.loads(file.read_text()), str(file)))
        except (OSError, ValueError) as error:
            raise GateInputError(f"{file}: not a readable JSON file ({error})") from None
    return _pooled(runs, str(path))


def _pooled(runs: list[tuple[object, str]], source: str) -> Run:
    import numpy as np

    profiles: set[str] = set()
    log_ratios: dict[str, list[float]] = {}
    all_rounds: dict[str, list[float]] = {}
    sessions: set[str | None] = set()
    for data, name in runs:
        if not isinstance(data, dict) or "fileio" not in data or "benchmarks" not in data:
            raise GateInputError(f"{name}: not a fileio benchmark run (saved by `pytest bench/`)")
        profiles.add(data["fileio"]["profile"])
        sessions.add(data["fileio"].get("session"))
        cases: dict[str, tuple[dict[str, Any], list[float]]] = {}
        controls: dict[tuple[str, str], list[float]] = {}
        for bench in data["benchmarks"]:
            rounds = bench.get("stats", {}).get("data")
            if not rounds:
                raise GateInputError(
                    f"{name}: no raw round data; save runs with --benchmark-save-data or --benchmark-json"
                )
            info = bench.get("extra_info", {})
            if "job" not in info or "start" not in info:
                raise GateInputError(
                    f"{name}: saved by an older benchmark suite (no job or start in extra_info)"
                )
            if saved_kind(info)[2] == Kind.CONTROL:
                controls[info["job"], info["start"]] = rounds
            else:
                cases[bench["param"]] = (info, rounds)
                all_rounds[bench["param"]] = rounds
        for case, (info, rounds) in cases.items():
            control = controls.get((info["job"], info["start"]))
            if control is not None:
                ratios = np.log(np.divide(*same_sweeps(rounds, control))).tolist()
                log_ratios.setdefault(case, []).extend(ratios)
    if len(profiles) > 1:
        raise GateInputError(f"{source}: runs of different profiles pooled: {', '.join(sorted(profiles))}")
    single = len(runs) == 1
    session = sessions.pop() if single else None
    return Run(profiles.pop(), log_ratios, all_rounds if single else {}, session, _capacities(runs))


def _capacities(runs: list[tuple[object, str]]) -> dict[str, tuple[int, list[float]]]:
    """Per job, the capacities the runs measured at the largest pool size of the first run, pooled."""
    pooled: dict[str, tuple[int, list[float]]] = {}
    for data, _ in runs:
        assert isinstance(data, dict)  # _pooled checked it
        for job, (workers, measured) in capacity.of_run(data["benchmarks"]).items():
            if pooled.setdefault(job, (workers, []))[0] == workers:
                pooled[job][1].extend(measured)
    return pooled


@dataclass(frozen=True)
class Comparison:
    """One case: its ratio to the control in each run, the change, its confidence interval and the verdict."""

    case: str
    baseline_ratio: float
    current_ratio: float
    change: float  # current ratio / baseline ratio - 1
    low: float
    high: float
    verdict: str


def compare(baseline: Run, current: Run, threshold: float = DEFAULT_GATE_THRESHOLD) -> list[Comparison]:
    """Every case both runs have with a control in its job on both sides, against ``threshold`` %."""
    import numpy as np

    if baseline.profile != current.profile:
        raise GateInputError(f"different profiles: baseline {baseline.profile}, current {current.profile}")
    same_sweeps = baseline.session is not None and baseline.session == current.session
    common = [case for case in baseline.log_ratios if case in current.log_ratios]
    if not common:
        raise GateInputError("no cases in common with a control case in both runs")
    limit = np.log1p(threshold / 100)
    comparisons = []
    for case in common:
        before, after = baseline.log_ratios[case], current.log_ratios[case]
        if same_sweeps and len(baseline.rounds[case]) == len(current.rounds[case]):
            paired = np.log(np.asarray(current.rounds[case]) / np.asarray(baseline.rounds[case])).tolist()
            change = float(typical_log(paired))
            low, high = bootstrap_interval((paired,), typical_log, RESAMPLES)
        else:
            change = float(log_change(np.asarray(before), np.asarray(after)))
            low, high = bootstrap_interval((before, after), log_change, RESAMPLES)
        if change > limit and low > 0:
            verdict = "REGRESSED"
        elif change < -limit and high < 0:
            verdict = "faster"
        elif abs(change) > limit:
            verdict = "not significant"
        else:
            verdict = "ok"
        relative_change, relative_low, relative_high = np.expm1([change, low, high]).tolist()
        baseline_ratio, current_ratio = np.exp([typical_log(before), typical_log(after)]).tolist()
        comparisons.append(
            Comparison(
                case, baseline_ratio, current_ratio, relative_change, relative_low, relative_high, verdict
            )
        )
    return comparisons


def report(comparisons: list[Comparison], threshold: float, notes: Sequence[str] = ()) -> str:
    """The table a person reads: one row per case, then a summary naming every regression, then ``notes``
    (:func:`capacity_notes`)."""
    lines = [
        f"{'case':<36}{'baseline':>10}{'current':>10}{'change':>9}   {CONFIDENCE:.0%} interval      verdict",
        "(ratios: the case's time over the control's in the same sweep, their geometric mean over the "
        f"sweeps without the top and bottom {TRIM:.0%}; change: of that ratio or, when both runs share their "
        "sweeps, the same mean of per-sweep current / baseline; "
        f"interval: {CONFIDENCE:.0%} bootstrap over the sweeps)",
    ]
    for row in comparisons:
        interval = f"[{row.low:+.1%}, {row.high:+.1%}]"
        lines.append(
            f"{row.case:<36}{row.baseline_ratio:>10.3f}{row.current_ratio:>10.3f}{row.change:>+9.1%}"
            f"   {interval:<20} {row.verdict}"
        )
    regressed = regressions(comparisons)
    if regressed:
        lines.append(
            f"{len(regressed)} of {len(comparisons)} cases regressed by more than {threshold:g}% "
            f"(significant at {CONFIDENCE:.0%}): {', '.join(regressed)}"
        )
    else:
        lines.append(f"no regression over {threshold:g}% in {len(comparisons)} cases")
    return "\n".join([*lines, *(f"note: {note}" for note in notes)])


def capacity_notes(baseline: Run, current: Run) -> list[str]:
    """What the machine gave each job's workers in the two runs, where both measured it (runs of one
    session share their sweeps, and their capacity: the baseline side's saved run has none)."""
    return capacity.notes(baseline.capacities, current.capacities, "the baseline run")


def regressions(comparisons: list[Comparison]) -> list[str]:
    """The cases that regressed."""
    return [row.case for row in comparisons if row.verdict == "REGRESSED"]


EXIT_REGRESSED = 1
EXIT_BAD_INPUT = 2


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.gate BASELINE CURRENT``: exit 1 on a regression, 2 on runs it cannot compare."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.gate",
        description="Compare two saved benchmark runs, each case relative to its run's control case.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "baseline", help="pytest-benchmark JSON with raw data, or a directory of them (pooled)"
    )
    parser.add_argument("current", help="the same, for the run to check")
    parser.add_argument("--threshold", type=float, default=DEFAULT_GATE_THRESHOLD, help="percent")
    args = parser.parse_args(argv)
    try:
        baseline, current = load_run(args.baseline), load_run(args.current)
        comparisons = compare(baseline, current, args.threshold)
    except GateInputError as error:
        print(f"gate: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report(comparisons, args.threshold, capacity_notes(baseline, current)))
    return EXIT_REGRESSED if regressions(comparisons) else 0


if __name__ == "__main__":
    sys.exit(main())
