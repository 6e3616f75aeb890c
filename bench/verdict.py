"""The verdict: per job, the fastest strategy with its speed-up and a confidence interval, the cases within
noise of it, and whether the machine held still; then one recommendation across jobs.

It reads a run as pytest-benchmark saves it (raw rounds in ``stats.data``, the case in ``extra_info``), so a
saved run gives the same verdict as the live one, and tests feed it small runs with known rounds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from bench.matrix import CONTROL, CONTROL_AGAIN, CSV, WARM
from bench.stats import CONFIDENCE, bootstrap_interval

AUTO = "auto"  # chooses among the others: never the verdict itself, but measured against it
RESAMPLES = 2000
# The two controls of a job differing by more than this means the machine changed speed while the job ran:
# the gate's own threshold, since drift that large would fail it too.
DRIFT = 0.10


@dataclass(frozen=True)
class Case:
    strategy: str
    workers: int
    rounds: list[float]
    efficiency: float | None = None
    peak_rss_mb: float | None = None

    @property
    def name(self) -> str:
        return self.strategy if self.strategy == "sequential" else f"{self.strategy} w{self.workers}"


@dataclass(frozen=True)
class JobVerdict:
    job: str
    fastest: str
    speedup: float | None  # over sequential, medians; None without a sequential case
    low: float | None  # its confidence interval
    high: float | None
    ties: list[str]  # cases whose times cannot be told from the fastest's
    auto: float | None  # the fastest case's time over auto's best, when auto was measured
    warm: str | None  # the fastest warm_pool case: for saves batch after batch, with no start-up to pay
    warm_speed: float | None  # the fastest case's time over the warm pool's
    efficiency: float | None
    peak_rss_mb: float | None
    drift: float | None  # control_again / control - 1
    reliable: bool
    notes: list[str] = field(default_factory=list)


def _ratio_interval(slow: list[float], fast: list[float]) -> tuple[float, float, float]:
    """median(slow) / median(fast) and its bootstrap interval over both cases' rounds."""

    def statistic(a: Any, b: Any, axis: int = -1) -> Any:
        return np.median(a, axis=axis) / np.median(b, axis=axis)

    ratio = float(statistic(np.asarray(slow), np.asarray(fast)))
    if len(slow) < 2 or len(fast) < 2:
        return ratio, ratio, ratio
    return (ratio, *bootstrap_interval((slow, fast), statistic, RESAMPLES))


def _median(case: Case) -> float:
    return float(np.median(case.rounds))


def read_cases(run: dict[str, Any]) -> dict[str, list[Case]]:
    """The cases of a saved run, by job, in the order measured."""
    jobs: dict[str, list[Case]] = {}
    for bench in run["benchmarks"]:
        info, rounds = bench.get("extra_info", {}), bench.get("stats", {}).get("data")
        if "job" in info and rounds:
            case = Case(
                info["strategy"], info["workers"], rounds, info.get("efficiency"), info.get("peak_rss_mb")
            )
            jobs.setdefault(info["job"], []).append(case)
    return jobs


def judge(job: str, cases: list[Case]) -> JobVerdict:
    """The verdict on one job's cases."""
    by_strategy = {case.strategy: case for case in cases}
    # The verdict is on one save, its workers' start-up included: auto is measured against it, not in it, and
    # the warm pool, whose start-up is not in its time, answers another question (saves batch after batch).
    strategies = [case for case in cases if case.strategy not in (CONTROL, CONTROL_AGAIN, AUTO, WARM)]
    fastest = min(strategies, key=_median)
    autos = [_median(case) for case in cases if case.strategy == AUTO]
    auto = _median(fastest) / min(autos) if autos else None
    warm = min((case for case in cases if case.strategy == WARM), key=_median, default=None)
    ties = [
        case.name
        for case in strategies
        if case is not fastest and _ratio_interval(case.rounds, fastest.rounds)[1] <= 1.0
    ]
    speedup = low = high = None
    if "sequential" in by_strategy:
        speedup, low, high = _ratio_interval(by_strategy["sequential"].rounds, fastest.rounds)
    drift, notes = None, []
    if CONTROL in by_strategy and CONTROL_AGAIN in by_strategy:
        drift = (
            float(np.median(by_strategy[CONTROL_AGAIN].rounds) / np.median(by_strategy[CONTROL].rounds)) - 1
        )
    reliable = drift is None or abs(drift) <= DRIFT
    if not reliable:
        notes.append(
            f"the machine drifted {drift:+.0%} within this job (control_again vs control): this verdict is "
            "unreliable; benchmark on a tmpfs (--fileio-dir) or with more rounds (--fileio-rounds)"
        )
    return JobVerdict(
        job,
        fastest.name,
        speedup,
        low,
        high,
        ties,
        auto,
        warm.name if warm else None,
        _median(fastest) / _median(warm) if warm else None,
        fastest.efficiency,
        fastest.peak_rss_mb,
        drift,
        reliable,
        notes,
    )


def verdicts(run: dict[str, Any]) -> list[JobVerdict]:
    return [judge(job, cases) for job, cases in read_cases(run).items()]


def line(verdict: JobVerdict) -> str:
    """One line a person can act on."""
    text = f"{verdict.job}: use {verdict.fastest}"
    if verdict.speedup is not None:
        text += (
            f", {verdict.speedup:.2f}x sequential ({CONFIDENCE:.0%} CI {verdict.low:.2f}-{verdict.high:.2f})"
        )
    if verdict.efficiency is not None:
        text += f", {verdict.efficiency:.0%} of this machine's ceiling"
    if verdict.peak_rss_mb is not None:
        text += f", peak {verdict.peak_rss_mb:.0f} MB"
    if verdict.ties:
        text += f"; within noise of it: {', '.join(verdict.ties)}"
    if verdict.auto is not None:
        text += f"; auto reached {verdict.auto:.0%} of its speed"
    if verdict.warm is not None:
        text += f"; batch after batch (no start-up): {verdict.warm}, {verdict.warm_speed:.2f}x its speed"
    return text + ("" if verdict.reliable else " [UNRELIABLE]")


KINDS = {  # what a job's name says about the work, for the recommendation
    "making the bytes costs CPU (Python-generated CSV)": lambda job: job.startswith(f"{CSV}-"),
    "ready bytes into the page cache": lambda job: not job.startswith(f"{CSV}-") and job.endswith("-none"),
    "durable saves (fsync or atomic)": lambda job: not job.endswith("-none"),
}


def recommendation(all_verdicts: list[JobVerdict]) -> list[str]:
    """Across jobs: what to use for each kind of work measured."""
    lines = []
    for kind, matches in KINDS.items():
        chosen = [verdict for verdict in all_verdicts if matches(verdict.job)]
        if chosen:
            picks = ", ".join(f"{verdict.fastest} ({verdict.job})" for verdict in chosen)
            lines.append(f"- {kind}: {picks}")
    return lines


def report(all_verdicts: list[JobVerdict]) -> list[str]:
    lines = ["fileio verdict (the fastest case per job; ties: intervals overlap the fastest's):"]
    for verdict in all_verdicts:
        lines.append(line(verdict))
        lines += [f"  note: {note}" for note in verdict.notes]
    return [*lines, "Recommendation on this machine:", *recommendation(all_verdicts)]


def as_json(all_verdicts: list[JobVerdict]) -> list[dict[str, Any]]:
    return [asdict(verdict) for verdict in all_verdicts]
