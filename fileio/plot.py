"""``fileio plot``: a saved benchmark run as a picture, one panel per job.

Each panel shows throughput (MB/s) against workers, one line per strategy; the ideal linear scaling of
``sequential`` (its throughput times the workers) and the machine's ceiling (the fastest the probe says the
job's bytes can be made and written with so many workers) are drawn in. A job measured at one worker count
gets a bar chart instead.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTROLS = ("control", "control_again")  # control_again: runs saved before the sweeps


@dataclass(frozen=True)
class Point:
    strategy: str
    workers: int
    mb_per_s: float
    ceiling_mb_per_s: float | None


Run = str | os.PathLike[str] | dict[str, Any]  # a saved run's JSON file, or the run itself


def read_run(run: Run) -> dict[str, list[Point]]:
    """Every case of a run saved by ``pytest bench/``, grouped by job; ValueError says what is wrong."""
    path = "this run" if isinstance(run, dict) else run
    try:
        data = run if isinstance(run, dict) else json.loads(Path(run).read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: not a readable JSON file ({error})") from None
    if not isinstance(data, dict) or "fileio" not in data or not data.get("benchmarks"):
        raise ValueError(f"{path}: not a fileio benchmark run (saved by `pytest bench/`)")
    jobs: dict[str, list[Point]] = defaultdict(list)
    for bench in data["benchmarks"]:
        info: dict[str, Any] = bench.get("extra_info", {})
        if info.get("strategy") in CONTROLS or "mb_per_s" not in info or info.get("start") == "cold":
            continue
        ceilings = info.get("ceiling_rounds") or ([info["ceiling_s"]] if info.get("ceiling_s") else None)
        ceiling_mb_per_s = info["bytes"] / 1e6 / statistics.median(ceilings) if ceilings else None
        jobs[info["job"]].append(Point(info["strategy"], info["workers"], info["mb_per_s"], ceiling_mb_per_s))
    if not jobs:
        raise ValueError(f"{path}: no timed cases (was it run with --benchmark-disable?)")
    return dict(jobs)


def _scaling_panel(axes: Any, job: str, points: list[Point]) -> None:
    workers = sorted({point.workers for point in points})
    by_strategy: dict[str, list[Point]] = defaultdict(list)
    for point in points:
        by_strategy[point.strategy].append(point)
    for strategy, own in by_strategy.items():
        own.sort(key=lambda point: point.workers)
        if strategy == "sequential":
            axes.axhline(own[0].mb_per_s, color="grey", linewidth=1, label="sequential")
            axes.plot(
                workers, [own[0].mb_per_s * count for count in workers], "k--", linewidth=1, label="ideal"
            )
        else:
            style = "-." if strategy == "auto" else "-"
            axes.plot([p.workers for p in own], [p.mb_per_s for p in own], style, marker="o", label=strategy)
    ceilings = [
        max(
            (p.ceiling_mb_per_s for p in points if p.workers == count and p.ceiling_mb_per_s),
            default=math.nan,
        )
        for count in workers
    ]
    if not all(math.isnan(value) for value in ceilings):
        axes.plot(workers, ceilings, "r:", linewidth=2, label="ceiling")
    axes.set_xticks(workers)
    axes.set_xlabel("workers")


def _bar_panel(axes: Any, job: str, points: list[Point]) -> None:
    names = [f"{p.strategy}\nw{p.workers}" for p in points]
    axes.bar(names, [p.mb_per_s for p in points])
    ceiling = max((p.ceiling_mb_per_s for p in points if p.ceiling_mb_per_s), default=None)
    if ceiling:
        axes.axhline(ceiling, color="red", linestyle=":", linewidth=2, label="ceiling")
    axes.tick_params(axis="x", labelrotation=45, labelsize=7)


def figure(jobs: dict[str, list[Point]]) -> Any:
    """A matplotlib figure with one panel per job, not yet saved."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    fig, panels = pyplot.subplots(1, len(jobs), figsize=(6 * len(jobs), 4.5), squeeze=False)
    for axes, (job, points) in zip(panels[0], jobs.items(), strict=True):
        if len({point.workers for point in points if point.strategy != "sequential"}) > 1:
            _scaling_panel(axes, job, points)
        else:
            _bar_panel(axes, job, points)
        axes.set_title(job)
        axes.set_ylabel("MB/s")
        # Room for every measured point and the ceiling; ideal scaling may run off the top.
        highest = max(max(p.mb_per_s for p in points), max((p.ceiling_mb_per_s or 0) for p in points))
        axes.set_ylim(0, 1.3 * highest)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_run(results: Run, output: str | os.PathLike[str]) -> str:
    """Draw the run saved in ``results`` into ``output`` (PNG, or SVG for a .svg name); says what it drew."""
    jobs = read_run(results)
    fig = figure(jobs)
    fig.savefig(output, format="svg" if str(output).endswith(".svg") else "png", dpi=110)
    return f"wrote {output}: {len(jobs)} panel(s): {', '.join(jobs)}"
