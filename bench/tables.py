"""The end-of-run tables: one per job, every case's median, throughput, speed-up over ``sequential``,
efficiency (its ceiling over its median, where fileio has the probe) and peak memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.matrix import WARM, Case

WARM_NOTE = (
    f"({WARM}: process_batches on a fileio.WarmPool started before the clock; every other case's time "
    "includes starting its workers)"
)


@dataclass(frozen=True)
class Result:
    """One case's outcome: its median over the timed rounds and what each round wrote."""

    case: Case
    median: float
    files: int
    bytes: int
    peak_mb: float  # the caller's process tree in the warm-up round, at its peak, above where it started
    ceiling_s: float | None = None  # the least time this machine could take (bench.ceiling); None: no probe

    def speedup(self, baseline: Result | None) -> float | None:
        return baseline.median / self.median if baseline else None

    @property
    def efficiency(self) -> float | None:
        return None if self.ceiling_s is None else self.ceiling_s / self.median

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
        if self.ceiling_s is not None:
            info.update(ceiling_s=self.ceiling_s, efficiency=self.efficiency)
        return info


def sequential_result(results: list[Result]) -> Result | None:
    return next((result for result in results if result.case.strategy == "sequential"), None)


def job_table(
    job_name: str,
    results: list[Result],
    rounds: int,
    ceiling_origin: str | None = None,
    previous: dict[str, dict[str, Any]] | None = None,
) -> list[tuple[str, bool]]:
    """The lines of one job's table, each with whether it is a heading; the fastest strategy is marked.
    ``ceiling_origin`` says whether the ceiling was measured now or reused; there is an efficiency column only
    when the cases have a ceiling. ``previous``, a compared run's cases by id, adds its median and speed-up
    and the change of the median."""
    first = results[0]
    baseline = sequential_result(results)
    strategies = [result for result in results if not result.case.is_control]
    fastest = min(strategies, key=lambda result: result.median, default=None)
    width = 12 if any(result.efficiency is not None for result in results) else 0  # the efficiency column
    heading = (
        f"fileio {job_name}: {first.files} files, {first.bytes / 1e6:.1f} MB a round, median of {rounds}"
    )
    lines = [
        (heading + (f"; {ceiling_origin}" if ceiling_origin else ""), True),
        (
            f"{'strategy':<20}{'workers':>8}{'median s':>11}{'MB/s':>10}{'files/s':>10}{'speed-up':>10}"
            f"{'efficiency' if width else '':>{width}}{'peak MB':>9}"
            + (f"{'prev s':>10}{'prev x':>8}{'change':>8}" if previous else ""),
            False,
        ),
    ]
    for result in results:
        speedup = result.speedup(baseline)
        lines.append(
            (
                f"{result.case.strategy:<20}{result.case.workers:>8}{result.median:>11.4f}"
                f"{result.bytes / 1e6 / result.median:>10.1f}{result.files / result.median:>10.1f}"
                f"{'-' if speedup is None else f'{speedup:.2f}x':>10}"
                f"{f'{result.efficiency:.0%}' if result.efficiency is not None else '':>{width}}"
                f"{result.peak_mb:>9.1f}{_compared(result, previous)}"
                f"{'  <- fastest' if result is fastest else ''}",
                False,
            )
        )
    if any(result.case.strategy == WARM for result in results):
        lines.append((WARM_NOTE, False))
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
