"""The end-of-run tables: one per job, every case's median, throughput and speed-up over ``sequential``."""

from __future__ import annotations

from dataclasses import dataclass

from bench.matrix import Case


@dataclass(frozen=True)
class Result:
    """One case's outcome: its median over the timed rounds and what each round wrote."""

    case: Case
    median: float
    files: int
    bytes: int

    def speedup(self, baseline: Result | None) -> float | None:
        return baseline.median / self.median if baseline else None

    def extra_info(self, baseline: Result | None) -> dict[str, object]:
        """Throughput for the saved JSON."""
        return {
            "files": self.files,
            "bytes": self.bytes,
            "mb_per_s": self.bytes / 1e6 / self.median,
            "files_per_s": self.files / self.median,
            "speedup": self.speedup(baseline),
        }


def sequential_result(results: list[Result]) -> Result | None:
    return next((result for result in results if result.case.strategy == "sequential"), None)


def job_table(job_name: str, results: list[Result], rounds: int) -> list[tuple[str, bool]]:
    """The lines of one job's table, each with whether it is a heading; the fastest strategy is marked."""
    first = results[0]
    baseline = sequential_result(results)
    strategies = [result for result in results if not result.case.is_control]
    fastest = min(strategies, key=lambda result: result.median, default=None)
    lines = [
        (
            f"fileio {job_name}: {first.files} files, {first.bytes / 1e6:.1f} MB a round, median of {rounds}",
            True,
        ),
        (f"{'strategy':<20}{'workers':>8}{'median s':>11}{'MB/s':>10}{'files/s':>10}{'speed-up':>10}", False),
    ]
    for result in results:
        speedup = result.speedup(baseline)
        lines.append(
            (
                f"{result.case.strategy:<20}{result.case.workers:>8}{result.median:>11.4f}"
                f"{result.bytes / 1e6 / result.median:>10.1f}{result.files / result.median:>10.1f}"
                f"{'-' if speedup is None else f'{speedup:.2f}x':>10}"
                f"{'  <- fastest' if result is fastest else ''}",
                False,
            )
        )
    return lines
