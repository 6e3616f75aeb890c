"""The end-of-run tables: one per job, every case's median, throughput, speed-up over ``sequential`` started
alike, efficiency (the job's ceiling over the case's time, in the same sweep, where fileio has the probe) and
peak memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from bench import capacity
from bench.matrix import WARM_POOL, Case, Kind, Pool, Start
from bench.stats import TRIM, same_sweeps, typical_ratio

WARM_NOTE = (
    f"({WARM_POOL}: process_batches on a fileio.WarmPool started before the clock; every other case's time "
    "includes starting its workers)"
)
COLD_NOTE = (
    "(cold: each round in a fresh interpreter, timed from its start to its exit, as a script run once pays "
    "it; warm: in a running program that has saved before, its interpreter, imports and the workers auto "
    "keeps already up)"
)


@dataclass(frozen=True)
class Result:
    """One case's outcome: its rounds in sweep order, what a round wrote, and its job's ceiling per sweep."""

    case: Case
    rounds: list[float]
    files: int
    bytes: int
    peak_mb: float | None  # the runner's tree in the warm-up round, at its peak, above its start (warm only)
    ceilings: list[float] | None = None  # the least time this machine could take, per sweep; None: no probe
    sweeps: int = 0
    capacities: list[float] | None = None  # how many times as fast as one its workers made bytes, per sweep

    @property
    def capacity(self) -> float | None:
        """What the machine gave its workers in this run: the sweeps' capacities, averaged as the ratios are
        (``bench.stats``)."""
        return capacity.typical(self.capacities) if self.capacities else None

    @property
    def median(self) -> float:
        return float(np.median(self.rounds))

    def speedup(self, baseline: Result | None) -> float | None:
        """Over ``baseline`` (sequential, started alike), sweep by sweep."""
        return float(typical_ratio(*same_sweeps(baseline.rounds, self.rounds))) if baseline else None

    @property
    def efficiency(self) -> float | None:
        """The ceiling over the case's time, sweep by sweep; warm cases only (the ceiling has no start-up)."""
        if self.ceilings is None or self.case.start == Start.COLD:
            return None
        return float(typical_ratio(*same_sweeps(self.ceilings, self.rounds)))

    def extra_info(self, baseline: Result | None) -> dict[str, object]:
        """Throughput, memory and, where there is a ceiling, efficiency for the saved JSON."""
        info: dict[str, object] = {
            "files": self.files,
            "bytes": self.bytes,
            "mb_per_s": self.bytes / 1e6 / self.median,
            "files_per_s": self.files / self.median,
            "speedup": self.speedup(baseline),
            "peak_rss_mb": self.peak_mb,
        }
        if self.efficiency is not None:
            info.update(ceiling_rounds=self.ceilings, efficiency=self.efficiency)
        if self.capacities:
            info.update(capacity_rounds=self.capacities, capacity=self.capacity)
        return info


def sequential_result(results: list[Result], start: str) -> Result | None:
    """The job's sequential case started the same way (warm or cold), the speed-ups' reference."""
    return next(
        (result for result in results if result.case.strategy == "sequential" and result.case.start == start),
        None,
    )


def _fastest(results: list[Result]) -> list[Result]:
    """The fastest case of each start by the speed-up column, sweep by sweep (by the median where there is
    no sequential case), as the verdict decides."""
    groups = [
        [result for result in results if result.case.start == start and result.case.kind == Kind.STRATEGY]
        for start in {result.case.start for result in results}
    ]
    return [
        max(group, key=lambda r: r.speedup(sequential_result(results, r.case.start)) or 1 / r.median)
        for group in groups
        if group
    ]


def _row(
    result: Result, results: list[Result], width: int, previous: dict[str, dict[str, Any]] | None
) -> str:
    """One case's line of its job's table (``width``: the efficiency column's, 0 for none)."""
    speedup = result.speedup(sequential_result(results, result.case.start))
    return (
        f"{result.case.name:<20}{result.case.workers:>8}{result.case.start:>6}"
        f"{result.median:>11.4f}{result.bytes / 1e6 / result.median:>10.1f}"
        f"{result.files / result.median:>10.1f}{'-' if speedup is None else f'{speedup:.2f}x':>10}"
        f"{f'{result.efficiency:.0%}' if result.efficiency is not None else '':>{width}}"
        f"{'-' if result.peak_mb is None else f'{result.peak_mb:.1f}':>9}"
        f"{_compared(result, previous)}"
    )


def job_table(
    job_name: str, results: list[Result], previous: dict[str, dict[str, Any]] | None = None
) -> list[tuple[str, bool]]:
    """The lines of one job's table, each with whether it is a heading; the fastest warm and cold cases are
    marked. There is an efficiency column only when the cases have a ceiling. ``previous``, a compared run's
    cases by id, adds its median and speed-up and the change of the median."""
    first = results[0]
    width = 12 if any(result.efficiency is not None for result in results) else 0  # the efficiency column
    fewest = min(len(result.rounds) for result in results)  # the gate measures the cases it decided no more
    every = "every case once a sweep" if fewest == first.sweeps else f"every case in the first {fewest}"
    heading = (
        f"fileio {job_name}: {first.files} files, {first.bytes / 1e6:.1f} MB a round; {first.sweeps} sweeps, "
        f"{every} in a random order; speed-up and efficiency: per-sweep ratios, "
        f"their geometric mean without the top and bottom {TRIM:.0%}"
    )
    widest = max(results, key=lambda result: (result.capacity is not None, result.case.workers))
    if widest.capacity is not None:
        heading += (
            f"; the machine gave {widest.case.workers} workers {widest.capacity:.2f}x one's speed at "
            "making the bytes (measured each sweep, averaged alike)"
        )
    lines = [
        (heading, True),
        (
            f"{'strategy':<20}{'workers':>8}{'start':>6}{'median s':>11}{'MB/s':>10}{'files/s':>10}"
            f"{'speed-up':>10}{'efficiency' if width else '':>{width}}{'peak MB':>9}"
            + (f"{'prev s':>10}{'prev x':>8}{'change':>8}" if previous else ""),
            False,
        ),
    ]
    fastest = _fastest(results)
    for result in results:
        mark = "  <- fastest" if any(result is best for best in fastest) else ""
        lines.append((_row(result, results, width, previous) + mark, False))
    then = capacity.of_run(previous.values()).get(job_name) if previous else None
    if then and widest.capacities and then[0] == widest.case.workers:
        lines.append(
            (f"({capacity.note(job_name, then[0], then[1], widest.capacities, 'the compared run')})", False)
        )
    if any(result.case.pool == Pool.KEPT for result in results):
        lines.append((WARM_NOTE, False))
    if any(result.case.start == Start.COLD for result in results):
        lines.append((COLD_NOTE, False))
    return lines


def _compared(result: Result, previous: dict[str, dict[str, Any]] | None) -> str:
    """The compared run's median and speed-up for this case, and how the median changed."""
    if not previous:
        return ""
    bench = previous.get(result.case.id)
    if bench is None:
        return f"{'-':>10}{'-':>8}{'-':>8}"
    median = bench["stats"]["median"]
    speedup = bench.get("extra_info", {}).get("speedup")
    shown = f"{speedup:.2f}x" if speedup else "-"
    return f"{median:>10.4f}{shown:>8}{result.median / median - 1:>+8.0%}"
