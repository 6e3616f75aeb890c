"""The regression gate: compare two benchmark runs case by case, each relative to its own run's control.

A case's *ratio* is its median time over the median time of its job's control cases in the same run (plain
writes, no fileio strategy; measured first and last in the job, rounds pooled), so a machine that is
uniformly slower or faster changes no ratio. A case has regressed when its ratio grew by more than the
threshold *and* the change is significant: its interval lies wholly above zero. The interval is a bootstrap
confidence interval over the raw rounds of all four sets (case and control, baseline and current), widened by
the noise the two runs show themselves: the run-to-run spread (the robust spread of the changes of the job's
cases) or, when larger, the drift within each run (how far the job's first and last controls moved apart; a
case measured between them can be off by that much, and with fewer than three cases in a job it is the only
measure of the machine's noise there is).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.matrix import CONTROL, CONTROL_AGAIN, CONTROLS, DEFAULT_GATE_THRESHOLD
from bench.stats import CONFIDENCE, bootstrap_interval

RESAMPLES = 4000
# Between two runs on a shared machine, cases move by far more than their rounds vary within a run. The
# interval is widened by this many run-to-run spreads, measured on the job's other cases. On a 2-core VM
# (quick profile on a tmpfs), 3 and 3.5 raised no alarm over 10 pairs of unchanged runs and caught a 25 %
# slowdown of one strategy in 8 of 10; 4 caught it in 6 of 10.
RUN_TO_RUN_Z = 3.5


class GateInputError(Exception):
    """The runs cannot be compared; the message says why in one line."""


@dataclass(frozen=True)
class Run:
    """One side of a comparison: raw round times per case, grouped by job, from one or more saved runs."""

    profile: str
    samples: dict[str, list[float]]  # case id -> round times in seconds
    jobs: dict[str, str]  # case id -> job name
    controls: dict[str, str]  # control case id -> its strategy (CONTROL or CONTROL_AGAIN)

    def control(self, job: str, strategies: tuple[str, ...] = CONTROLS) -> list[float] | None:
        """The rounds of ``job``'s control cases (both by default), pooled; None when it has none."""
        rounds = [
            time
            for case, name in self.jobs.items()
            if name == job and self.controls.get(case) in strategies
            for time in self.samples[case]
        ]
        return rounds or None

    def drift(self, job: str) -> float:
        """|log| of how far ``job``'s last control moved from its first within the run; 0 without both."""
        import numpy as np

        first, last = self.control(job, (CONTROL,)), self.control(job, (CONTROL_AGAIN,))
        if first is None or last is None:
            return 0.0
        return float(abs(np.log(np.median(last) / np.median(first))))


def run_from_json(data: object, source: str) -> Run:
    """A run from pytest-benchmark's JSON (as saved by ``pytest bench/``); ``source`` names it in errors."""
    return _pooled([(data, source)], source)


def load_run(path: str | Path) -> Run:
    """A run from a pytest-benchmark JSON file, or the pooled rounds of every JSON file in a directory."""
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
    profiles: set[str] = set()
    samples: dict[str, list[float]] = {}
    jobs: dict[str, str] = {}
    controls: dict[str, str] = {}
    for data, name in runs:
        if not isinstance(data, dict) or "fileio" not in data or "benchmarks" not in data:
            raise GateInputError(f"{name}: not a fileio benchmark run (saved by `pytest bench/`)")
        profiles.add(data["fileio"]["profile"])
        for bench in data["benchmarks"]:
            rounds = bench.get("stats", {}).get("data")
            if not rounds:
                raise GateInputError(
                    f"{name}: no raw round data; save runs with --benchmark-save-data or --benchmark-json"
                )
            info = bench.get("extra_info", {})
            if "job" not in info or "strategy" not in info:
                raise GateInputError(f"{name}: saved by an older benchmark suite (no job in extra_info)")
            samples.setdefault(bench["param"], []).extend(rounds)
            jobs[bench["param"]] = info["job"]
            if info["strategy"] in CONTROLS:
                controls[bench["param"]] = info["strategy"]
    if len(profiles) > 1:
        raise GateInputError(f"{source}: runs of different profiles pooled: {', '.join(sorted(profiles))}")
    return Run(profiles.pop(), samples, jobs, controls)


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


def _log_change(
    baseline: Any, baseline_control: Any, current: Any, current_control: Any, axis: int = -1
) -> Any:
    """log(current ratio / baseline ratio), each ratio a case median over its control median (round times, or
    stacks of resamples along ``axis``)."""
    import numpy as np

    def ratio(case: Any, control: Any) -> Any:
        return np.median(case, axis=axis) / np.median(control, axis=axis)

    return np.log(ratio(current, current_control) / ratio(baseline, baseline_control))


def _round_interval(sets: tuple[list[float], ...]) -> tuple[float, float]:
    """Bootstrap interval of the log change, resampling the raw rounds of all four sets."""
    return bootstrap_interval(sets, _log_change, RESAMPLES)


def _run_to_run_spread(changes: list[float]) -> float:
    """How far cases of one job moved apart between the two runs: 1.4826 x the median absolute deviation of
    their log changes (a robust standard deviation that one regressed case barely moves)."""
    import numpy as np

    if len(changes) < 3:
        return 0.0
    middle = np.median(changes)
    return float(1.4826 * np.median(np.abs(np.asarray(changes) - middle)))


def compare(baseline: Run, current: Run, threshold: float = DEFAULT_GATE_THRESHOLD) -> list[Comparison]:
    """Every case both runs have, with a control in its job on both sides, against ``threshold`` %."""
    import numpy as np

    if baseline.profile != current.profile:
        raise GateInputError(f"different profiles: baseline {baseline.profile}, current {current.profile}")
    sets: dict[str, tuple[list[float], list[float], list[float], list[float]]] = {}
    for case in baseline.samples:
        if case not in current.samples or case in baseline.controls:
            continue
        baseline_control, current_control = (
            baseline.control(baseline.jobs[case]),
            current.control(current.jobs[case]),
        )
        if baseline_control is not None and current_control is not None:
            sets[case] = (baseline.samples[case], baseline_control, current.samples[case], current_control)
    if not sets:
        raise GateInputError("no cases in common with a control case in both runs")
    changes = {case: float(_log_change(*four)) for case, four in sets.items()}
    jobs = {case: baseline.jobs[case] for case in sets}
    spread = {
        job: _run_to_run_spread([change for case, change in changes.items() if jobs[case] == job])
        for job in set(jobs.values())
    }
    limit = np.log1p(threshold / 100)
    comparisons = []
    for case, four in sets.items():
        low, high = _round_interval(four)
        job = jobs[case]
        margin = max(RUN_TO_RUN_Z * spread[job], baseline.drift(job) + current.drift(job))
        low, high, change = low - margin, high + margin, changes[case]
        if change > limit and low > 0:
            verdict = "REGRESSED"
        elif change < -limit and high < 0:
            verdict = "faster"
        elif abs(change) > limit:
            verdict = "not significant"
        else:
            verdict = "ok"
        baseline_ratio = float(np.median(four[0]) / np.median(four[1]))
        current_ratio = float(np.median(four[2]) / np.median(four[3]))
        relative_change, relative_low, relative_high = np.expm1([change, low, high]).tolist()
        comparisons.append(
            Comparison(
                case, baseline_ratio, current_ratio, relative_change, relative_low, relative_high, verdict
            )
        )
    return comparisons


def report(comparisons: list[Comparison], threshold: float) -> str:
    """The table a person reads: one row per case, then a summary naming every regression."""
    lines = [
        f"{'case':<36}{'baseline':>10}{'current':>10}{'change':>9}   {CONFIDENCE:.0%} interval     verdict",
        f"(ratios: case median / control median in the same run; interval: {CONFIDENCE:.0%} bootstrap over "
        f"the rounds, widened by {RUN_TO_RUN_Z:g} x the run-to-run spread of the job's cases or, if larger, "
        "by the drift between the job's two controls in each run)",
    ]
    for row in comparisons:
        interval = f"[{row.low:+.1%}, {row.high:+.1%}]"
        lines.append(
            f"{row.case:<36}{row.baseline_ratio:>10.3f}{row.current_ratio:>10.3f}{row.change:>+9.1%}"
            f"   {interval:<19}{row.verdict}"
        )
    regressed = regressions(comparisons)
    if regressed:
        lines.append(
            f"{len(regressed)} of {len(comparisons)} cases regressed by more than {threshold:g}% "
            f"(significant at {CONFIDENCE:.0%}): {', '.join(regressed)}"
        )
    else:
        lines.append(f"no regression over {threshold:g}% in {len(comparisons)} cases")
    return "\n".join(lines)


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
        comparisons = compare(load_run(args.baseline), load_run(args.current), args.threshold)
    except GateInputError as error:
        print(f"gate: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report(comparisons, args.threshold))
    return EXIT_REGRESSED if regressions(comparisons) else 0


if __name__ == "__main__":
    sys.exit(main())
