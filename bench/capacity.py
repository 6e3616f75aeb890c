"""What the machine gave a run's workers at making bytes (its parallel capacity: the ceiling measures it in
every sweep), and whether another run's differs by more than the noise. Where it does, the host gave our
cores more or less between the two runs, and the parallel cases' changes between them are partly the
machine's, not the code's: the tables under ``--benchmark-compare`` and the gate's report say so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from bench.stats import CONFIDENCE, bootstrap_interval, log_change, typical_log

RESAMPLES = 2000


def of_run(benchmarks: Iterable[Mapping[str, Any]]) -> dict[str, tuple[int, list[float]]]:
    """Per job, the largest pool size whose capacity a saved run measured, and its per-sweep capacities."""
    found: dict[str, tuple[int, list[float]]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        rounds, workers = info.get("capacity_rounds"), info.get("workers", 0)
        if rounds and workers > found.get(info.get("job", ""), (0, []))[0]:
            found[info["job"]] = (workers, list(rounds))
    return found


def typical(capacities: list[float]) -> float:
    """A run's capacity: the typical one of its sweeps (``bench.stats``)."""
    import numpy as np

    return float(np.exp(typical_log(np.log(capacities))))


def change(then: list[float], now: list[float]) -> tuple[float, float, float]:
    """Now's capacity over then's, and its bootstrap interval, the two runs' sweeps resampled each on its
    own."""
    import numpy as np

    before, after = np.log(then).tolist(), np.log(now).tolist()
    low, high = bootstrap_interval((before, after), log_change, RESAMPLES)
    return typical(now) / typical(then), float(np.exp(low)), float(np.exp(high))


def note(job: str, workers: int, then: list[float], now: list[float], other: str) -> str:
    """One sentence: the two runs' capacities, and whether they differ by more than the noise."""
    ratio, low, high = change(then, now)
    said = (
        f"{job}: the machine gave {workers} workers {typical(now):.2f}x one's speed at making the bytes in "
        f"this run, {typical(then):.2f}x in {other} ({ratio - 1:+.0%}, {CONFIDENCE:.0%} interval "
        f"{low - 1:+.0%} to {high - 1:+.0%})"
    )
    if low > 1 or high < 1:
        return f"{said}: more than the noise, so its parallel cases' changes are partly the machine's"
    return f"{said}: within the noise"


def notes(
    then: Mapping[str, tuple[int, list[float]]], now: Mapping[str, tuple[int, list[float]]], other: str
) -> list[str]:
    """A :func:`note` for every job both runs measured the capacity of, at the same pool size."""
    return [
        note(job, workers, then[job][1], rounds, other)
        for job, (workers, rounds) in now.items()
        if job in then and then[job][0] == workers
    ]
