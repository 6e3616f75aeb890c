"""The regression gate: compare two benchmark runs case by case, each relative to its own run's control.

A case's *ratio* is its median time over the median time of its job's control case (plain writes, no fileio
strategy) in the same run, so a machine that is uniformly slower or faster changes no ratio. A case has
regressed when its ratio grew by more than the threshold *and* a bootstrap confidence interval on the change,
drawn from the raw round samples of all four sets (case and control, baseline and current), lies wholly
above zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CONTROL = "control"
CONFIDENCE = 0.95
RESAMPLES = 4000
DEFAULT_THRESHOLD = 10.0


class GateInputError(Exception):
    """The runs cannot be compared; the message says why in one line."""


@dataclass(frozen=True)
class Run:
    """One side of a comparison: raw round times per case, grouped by job, from one or more saved runs."""

    profile: str
    samples: dict[str, list[float]]  # case id -> round times in seconds
    jobs: dict[str, str]  # case id -> job name

    def control(self, job: str) -> list[float] | None:
        controls = [
            self.samples[case] for case, name in self.jobs.items() if name == job and _is_control(case)
        ]
        return controls[0] if controls else None


def _is_control(case: str) -> bool:
    return case.startswith(f"{CONTROL}-")


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
    profiles, samples, jobs = set(), {}, {}
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
            samples.setdefault(bench["param"], []).extend(rounds)
            jobs[bench["param"]] = bench["group"]
    if len(profiles) > 1:
        raise GateInputError(f"{source}: runs of different profiles pooled: {', '.join(sorted(profiles))}")
    return Run(profiles.pop(), samples, jobs)


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


def _ratio_change(baseline, baseline_control, current, current_control, axis=-1):
    import numpy as np

    def ratio(case, control):
        return np.median(case, axis=axis) / np.median(control, axis=axis)

    return ratio(current, current_control) / ratio(baseline, baseline_control) - 1


def compare(baseline: Run, current: Run, threshold: float = DEFAULT_THRESHOLD) -> list[Comparison]:
    """Every case both runs have, with a control in its job on both sides, against ``threshold`` %."""
    import numpy as np
    from scipy.stats import bootstrap

    if baseline.profile != current.profile:
        raise GateInputError(f"different profiles: baseline {baseline.profile}, current {current.profile}")
    common = [case for case in baseline.samples if case in current.samples and not _is_control(case)]
    comparisons = []
    for case in common:
        controls = baseline.control(baseline.jobs[case]), current.control(current.jobs[case])
        if None in controls:
            continue
        sets = (baseline.samples[case], controls[0], current.samples[case], controls[1])
        change = float(_ratio_change(*(np.asarray(values) for values in sets)))
        interval = bootstrap(
            sets,
            _ratio_change,
            n_resamples=RESAMPLES,
            confidence_level=CONFIDENCE,
            method="percentile",
            vectorized=True,
            rng=np.random.default_rng(0),
        ).confidence_interval
        low, high = float(interval.low), float(interval.high)
        limit = threshold / 100
        if change > limit and low > 0:
            verdict = "REGRESSED"
        elif change < -limit and high < 0:
            verdict = "faster"
        elif abs(change) > limit:
            verdict = "not significant"
        else:
            verdict = "ok"
        comparisons.append(
            Comparison(
                case,
                float(np.median(sets[0]) / np.median(sets[1])),
                float(np.median(sets[2]) / np.median(sets[3])),
                change,
                low,
                high,
                verdict,
            )
        )
    if not comparisons:
        raise GateInputError("no cases in common with a control case in both runs")
    return comparisons


def report(comparisons: list[Comparison], threshold: float) -> str:
    """The table a person reads: one row per case, then a summary naming every regression."""
    lines = [
        f"{'case':<36}{'baseline':>10}{'current':>10}{'change':>9}   {CONFIDENCE:.0%} interval     verdict",
        "(ratios: case median / control median in the same run)",
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
