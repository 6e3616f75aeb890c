"""The verdict: per job and start (warm: in a running program; cold: a script run once), the fastest
strategy with its speed-up and a confidence interval, the cases within noise of it, and its efficiency; then
one recommendation across jobs.

Every case of a job was measured in the same sweeps (bench.sweep), so two cases are compared sweep by sweep:
the intervals come from a paired bootstrap over the sweeps. It reads a run as pytest-benchmark saves it (raw
rounds in ``stats.data``, in sweep order; the case's fields in ``extra_info``), so a saved run gives the same
verdict as the live one, and tests feed it small runs with known rounds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bench.matrix import CSV, Case, Job, Kind, Pool, Start
from bench.stats import CONFIDENCE, bootstrap_interval, same_sweeps, typical_ratio
from bench.tables import Result

AUTO = "auto"  # chooses among the others: never the verdict itself, but measured against it
RESAMPLES = 2000
# A fastest case whose speed-up is known no better than this (interval high / low), and whose interval reaches
# 1, was not resolved from the machine's noise within the run's budget: the run can neither say that it beats
# sequential nor that it does not: nothing to act on. (A wide interval above 1 still says "use it".)
RESOLVED = 1.20


@dataclass(frozen=True)
class JobVerdict:
    job: str
    kind: str
    durability: str
    start: Start
    fastest: str
    speedup: float | None  # over sequential started alike, sweep by sweep; None without a sequential case
    low: float | None  # its confidence interval
    high: float | None
    ties: list[str]  # cases whose times cannot be told from the fastest's
    auto: float | None  # the fastest case's time over auto's, when auto was measured
    warm: str | None  # the fastest warm_pool case: for saves batch after batch, with no start-up to pay
    warm_speed: float | None  # the fastest case's time over the warm pool's
    efficiency: float | None  # the ceiling over the fastest case's time, sweep by sweep
    efficiency_low: float | None
    efficiency_high: float | None
    peak_rss_mb: float | None
    reliable: bool
    notes: list[str] = field(default_factory=list)
    sweeps: int = 0  # the fastest case's: what the intervals are over
    capacity: float | None = None  # what the machine gave capacity_workers workers at making bytes, x one's
    capacity_workers: int = 0
    fastest_id: str = ""  # the fastest case's id, as the saved runs name it
    # The fastest case's speed-up in the newest earlier run saved on this machine (same profile and
    # filesystem): how far two runs here differ, beside the interval, which covers this run's sweeps only.
    last_run: float | None = None


def _paired_ratio(slow: list[float], fast: list[float]) -> tuple[float, float, float]:
    """The typical per-sweep slow / fast (``bench.stats``), and its paired bootstrap interval."""
    slow, fast = same_sweeps(slow, fast)
    ratio = float(typical_ratio(slow, fast))
    if len(slow) < 3:
        return ratio, ratio, ratio
    return (ratio, *bootstrap_interval((slow, fast), typical_ratio, RESAMPLES, paired=True))


def _speed(sequential: Result | None) -> Callable[[Result], float]:
    """How fast a case is, as the table's speed-up column says: its speed-up over ``sequential``, sweep by
    sweep (``bench.stats``); without a sequential case, one over its median. The fastest mark, the verdict
    and the column beside them so never disagree."""
    if sequential is None:
        return lambda case: 1 / case.median
    return lambda case: float(typical_ratio(*same_sweeps(sequential.rounds, case.rounds)))


def read_cases(run: dict[str, Any]) -> dict[tuple[Job, Start], list[Result]]:
    """The cases of a saved run with what they measured, by job and start, in the order measured."""
    groups: dict[tuple[Job, Start], list[Result]] = {}
    for bench in run["benchmarks"]:
        info, rounds = bench.get("extra_info", {}), bench.get("stats", {}).get("data")
        if "job" in info and rounds:
            case = Case.from_info(info)
            result = Result(
                case, rounds, info.get("files", 0), info.get("bytes", 0), info.get("peak_rss_mb"),
                info.get("ceiling_rounds"), len(rounds), info.get("capacity_rounds"),
            )  # fmt: skip
            groups.setdefault((case.job, case.start), []).append(result)
    return groups


def label(result: Result) -> str:
    """What the verdict calls a case: its name, and its pool size unless it is sequential."""
    case = result.case
    return case.name if case.strategy == "sequential" else f"{case.name} w{case.workers}"


def judge(job: Job, start: Start, cases: list[Result]) -> JobVerdict:
    """The verdict on one job's cases started alike."""
    by_strategy = {case.case.name: case for case in cases}
    # The verdict is on one save, its workers' start-up included: auto is measured against it, not in it, and
    # the warm pool, whose start-up is not in its time, answers another question (saves batch after batch).
    strategies = [
        case for case in cases
        if case.case.kind == Kind.STRATEGY and case.case.pool == Pool.NEW and case.case.strategy != AUTO
    ]  # fmt: skip
    fastest = max(strategies, key=_speed(by_strategy.get("sequential")))
    auto = _paired_ratio(fastest.rounds, by_strategy[AUTO].rounds)[0] if AUTO in by_strategy else None
    warm = max(
        (case for case in cases if case.case.pool == Pool.KEPT),
        key=_speed(by_strategy.get("sequential")),
        default=None,
    )
    ties = [
        label(case)
        for case in strategies
        if case is not fastest and _paired_ratio(case.rounds, fastest.rounds)[1] <= 1.0
    ]
    speedup = low = high = None
    notes = []
    reliable = True
    if "sequential" in by_strategy:
        speedup, low, high = _paired_ratio(by_strategy["sequential"].rounds, fastest.rounds)
        reliable = low > 1.0 or high <= low * RESOLVED
    if not reliable:
        notes.append(
            f"the speed-up is known only within {low:.2f}-{high:.2f}x, so whether {label(fastest)} beats "
            "sequential at all was not resolved from the machine's noise in this run's budget; benchmark on "
            "a tmpfs (--fileio-dir) or with more sweeps (--fileio-rounds)"
        )
    efficiency = efficiency_low = efficiency_high = None
    if fastest.ceilings:
        efficiency, efficiency_low, efficiency_high = _paired_ratio(fastest.ceilings, fastest.rounds)
    widest = max(
        (case for case in cases if case.capacities), key=lambda case: case.case.workers, default=None
    )
    return JobVerdict(
        job.name, job.kind, job.durability, start, label(fastest), speedup, low, high, ties,
        auto, label(warm) if warm else None,
        _paired_ratio(fastest.rounds, warm.rounds)[0] if warm else None,
        efficiency, efficiency_low, efficiency_high, fastest.peak_mb, reliable, notes,
        len(fastest.rounds), widest.capacity if widest else None, widest.case.workers if widest else 0,
        fastest.case.id,
    )  # fmt: skip


def verdicts(run: dict[str, Any], last: dict[str, Any] | None = None) -> list[JobVerdict]:
    """The verdict on every job and start of ``run``; with ``last``, an earlier saved run of this machine,
    each says what its fastest case gave in that one."""
    speedups = {
        bench["param"]: bench["extra_info"].get("speedup") for bench in (last or {}).get("benchmarks", [])
    }
    judged = [judge(job, start, cases) for (job, start), cases in read_cases(run).items()]
    return [replace(verdict, last_run=speedups.get(verdict.fastest_id)) for verdict in judged]


QUESTIONS = {
    Start.WARM: "in a running program",
    Start.COLD: "a script run once (a fresh interpreter, its start-up included)",
}


def line(verdict: JobVerdict) -> str:
    """One line a person can act on."""
    text = f"{verdict.job}, {QUESTIONS[verdict.start]}: use {verdict.fastest}"
    if verdict.speedup is not None:
        text += (
            f", {verdict.speedup:.2f}x sequential ({CONFIDENCE:.0%} CI {verdict.low:.2f}-{verdict.high:.2f} "
            f"over this run's {verdict.sweeps} sweeps"
            + (f"; the last run saved here: {verdict.last_run:.2f}x)" if verdict.last_run else ")")
        )
    if verdict.efficiency is not None:
        text += (
            f", {verdict.efficiency:.0%} of this machine's ceiling "
            f"({verdict.efficiency_low:.0%}-{verdict.efficiency_high:.0%})"
        )
    if verdict.capacity is not None:
        text += f" (the machine gave {verdict.capacity_workers} workers {verdict.capacity:.2f}x one's speed)"
    if verdict.peak_rss_mb is not None:
        text += f", peak {verdict.peak_rss_mb:.0f} MB"
    if verdict.ties:
        text += f"; within noise of it: {', '.join(verdict.ties)}"
    if verdict.auto is not None:
        text += f"; auto reached {verdict.auto:.0%} of its speed"
    if verdict.warm is not None:
        text += f"; batch after batch (no start-up): {verdict.warm}, {verdict.warm_speed:.2f}x its speed"
    return text + ("" if verdict.reliable else " [UNRELIABLE]")


KINDS = {  # what a job is, from its fields, for the recommendation
    "making the bytes costs CPU (Python-generated CSV)": lambda verdict: verdict.kind == CSV,
    "ready bytes into the page cache": lambda verdict: (
        verdict.kind == "payload" and verdict.durability == "none"
    ),
    "your own workload": lambda verdict: verdict.kind == "custom" and verdict.durability == "none",
    "durable saves (fsync or atomic)": lambda verdict: verdict.durability != "none",
}


def recommendation(all_verdicts: list[JobVerdict]) -> list[str]:
    """Across jobs: what to use for each kind of work measured, in a running program and in a script."""
    lines = []
    for kind, matches in KINDS.items():
        chosen = [verdict for verdict in all_verdicts if matches(verdict)]
        if chosen:
            picks = ", ".join(f"{verdict.fastest} ({verdict.job}, {verdict.start})" for verdict in chosen)
            lines.append(f"- {kind}: {picks}")
    return lines


def report(all_verdicts: list[JobVerdict]) -> list[str]:
    lines = [
        "fileio verdict (the fastest case per job and start; ties: paired intervals reach the fastest's):"
    ]
    for verdict in all_verdicts:
        lines.append(line(verdict))
        lines += [f"  note: {note}" for note in verdict.notes]
    return [*lines, "Recommendation on this machine:", *recommendation(all_verdicts)]


def as_json(all_verdicts: list[JobVerdict]) -> list[dict[str, Any]]:
    return [asdict(verdict) for verdict in all_verdicts]
