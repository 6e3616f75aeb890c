"""The verdict (bench/verdict.py) from small saved runs with known rounds: per job and start (warm or cold),
the fastest case, its paired interval, ties, efficiency, and a job marked unreliable when its fastest case's
speed-up was not resolved."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from bench.matrix import Job
from bench.verdict import RESOLVED, judge, line, read_cases, recommendation, report, verdicts

QUIET = [1.00, 1.02, 0.98, 1.01, 0.99, 1.00]  # one case's spread over six sweeps on a quiet machine
# What the machine did in each sweep (a slower disk, another tenant): it falls on every case of the sweep.
WANDERING = [1.00, 1.45, 0.80, 1.30, 0.90, 1.60]


def bench(
    name: str,
    rounds: list[float],
    job: str = "csv-none",
    kind: str = "csv",
    durability: str = "none",
    start: str = "warm",
    ceilings: list[float] | None = None,
) -> dict[str, Any]:
    """One case as pytest-benchmark saves it: raw rounds in sweep order, the case's fields in extra_info."""
    strategy, workers = name.rsplit("-w", 1)
    info: dict[str, Any] = {
        "strategy": strategy,
        "workers": int(workers),
        "start": start,
        "job": job,
        "job_kind": kind,
        "durability": durability,
        "files": 10,
        "peak_rss_mb": 12.0,
    }
    if ceilings is not None:
        info["ceiling_rounds"] = ceilings
    param = f"{name}-{job}" + ("-cold" if start == "cold" else "")
    return {"param": param, "extra_info": info, "stats": {"data": rounds}}


def run_json(
    cases: dict[str, float], machine: list[float] = QUIET, ceiling: float | None = None, **fields: str
) -> dict[str, Any]:
    """A saved run of one job: every case's rounds its median times the machine's factor in each sweep, and,
    with ``ceiling``, the job's ceiling measured in each sweep too."""
    ceilings = [ceiling * factor for factor in machine] if ceiling is not None else None
    benchmarks = [
        bench(name, [median * factor for factor in machine], ceilings=ceilings, **fields)
        for name, median in cases.items()
    ]
    return {"fileio": {"profile": "quick"}, "benchmarks": benchmarks}


def joined(*runs: dict[str, Any]) -> dict[str, Any]:
    return {
        "fileio": {"profile": "quick"},
        "benchmarks": [case for run in runs for case in run["benchmarks"]],
    }


def saved(tmp_path: Path, run: dict[str, Any]) -> dict[str, Any]:
    """The run written and read back, as the verdict reads a saved run."""
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    return json.loads(path.read_text())


def test_clear_winner_with_interval(tmp_path: Path) -> None:
    """A strategy twice as fast as sequential in every sweep: named, 2.00x with an interval around 2, no tie,
    its efficiency from the ceiling of each sweep; the control, faster still, is never the verdict."""
    cases = {"control-w1": 0.3, "sequential-w1": 1.0, "processes-w2": 0.5, "threads-w2": 0.9}
    [verdict] = verdicts(saved(tmp_path, run_json(cases, ceiling=0.4)))
    assert (verdict.job, verdict.kind, verdict.start) == ("csv-none", "csv", "warm")
    assert (
        verdict.fastest == "processes w2" and verdict.reliable and verdict.ties == [] and verdict.notes == []
    )
    assert 1.99 < verdict.low <= verdict.speedup <= verdict.high < 2.01
    assert round(verdict.efficiency, 2) == 0.8
    assert report([verdict])[1] == (
        "csv-none, in a running program: use processes w2, 2.00x sequential (95% CI "
        f"{verdict.low:.2f}-{verdict.high:.2f} over this run's {verdict.sweeps} sweeps), "
        "80% of this machine's ceiling "
        f"({verdict.efficiency_low:.0%}-{verdict.efficiency_high:.0%}), peak 12 MB"
    )


def test_ratios_are_paired_by_sweep(tmp_path: Path) -> None:
    """The machine's wandering from sweep to sweep (up to 60 % here) falls on every case of the sweep, so the
    paired speed-up stays tight: processes is resolved at 2x, and threads, 3 % slower than processes in every
    sweep, is told apart from it (no tie) although their rounds' ranges overlap widely."""
    cases = {"sequential-w1": 1.0, "processes-w2": 0.5, "threads-w2": 0.515}
    [verdict] = verdicts(saved(tmp_path, run_json(cases, machine=WANDERING)))
    assert verdict.fastest == "processes w2" and verdict.reliable
    assert verdict.high / verdict.low < 1.01 and round(verdict.speedup, 2) == 2.0
    assert verdict.ties == []
    _, processes, threads = (
        case["stats"]["data"] for case in run_json(cases, machine=WANDERING)["benchmarks"]
    )
    assert max(processes) > min(threads) * 1.5  # the rounds alone, unpaired, could not tell them apart


def test_efficiency_is_the_trimmed_mean_of_per_sweep_ratios(tmp_path: Path) -> None:
    """Efficiency is the ceiling over the fastest case's time sweep by sweep, then the geometric mean of those
    ratios without the highest and the lowest fifth (here one each of five), not a ratio of the medians."""
    rounds = [0.50, 0.80, 0.40, 0.70, 0.45]
    ceilings = [0.45, 0.40, 0.38, 0.35, 0.30]
    run = {
        "fileio": {"profile": "quick"},
        "benchmarks": [
            bench("sequential-w1", [1.0, 1.6, 0.8, 1.4, 0.9], ceilings=ceilings),
            bench("threads-w2", rounds, ceilings=ceilings),
        ],
    }
    [verdict] = verdicts(saved(tmp_path, run))
    middle = sorted(c / r for c, r in zip(ceilings, rounds, strict=True))[1:-1]
    expected = statistics.geometric_mean(middle)
    assert verdict.fastest == "threads w2" and abs(verdict.efficiency - expected) < 1e-12
    assert abs(expected - statistics.median(ceilings) / statistics.median(rounds)) > 0.05
    assert verdict.efficiency_low <= verdict.efficiency <= verdict.efficiency_high


def test_overlapping_cases_are_ties(tmp_path: Path) -> None:
    """threads w2 and sequential about 2 % apart, their per-sweep ratio crossing 1: within noise, a tie."""
    run = {
        "fileio": {"profile": "quick"},
        "benchmarks": [
            bench("sequential-w1", [1.00, 1.02, 0.98, 1.01, 0.99, 1.00]),
            bench("threads-w2", [0.99, 0.97, 1.01, 0.98, 1.00, 0.96]),
            bench("processes-w2", [1.5, 1.52, 1.49, 1.51, 1.5, 1.48]),
        ],
    }
    [verdict] = verdicts(saved(tmp_path, run))
    assert verdict.fastest == "threads w2" and verdict.ties == ["sequential"]
    assert verdict.low < 1.0 < verdict.high
    assert report([verdict])[1].endswith("; within noise of it: sequential")


def test_an_unresolved_speedup_marks_the_job_unreliable(tmp_path: Path) -> None:
    """A fastest case whose speed-up over sequential swings from 0.8x to 1.6x between sweeps: its interval
    reaches 1 and is wider than RESOLVED allows, so the run cannot say whether it beats sequential; the
    verdict is unreliable and its note says what to do."""
    run = {
        "fileio": {"profile": "quick"},
        "benchmarks": [
            bench("sequential-w1", [1.0] * 6),
            bench("threads-w2", [1 / 0.8, 1 / 1.6, 1 / 0.9, 1 / 1.5, 1 / 0.85, 1 / 1.55]),
        ],
    }
    [verdict] = verdicts(saved(tmp_path, run))
    assert verdict.fastest == "threads w2" and not verdict.reliable
    assert verdict.low < 1 < verdict.high and verdict.high > verdict.low * RESOLVED
    lines = report([verdict])
    assert lines[1].endswith("[UNRELIABLE]")
    interval = f"{verdict.low:.2f}-{verdict.high:.2f}x"
    assert lines[2].startswith(f"  note: the speed-up is known only within {interval}, so whether threads w2")
    assert "--fileio-dir" in lines[2] and "--fileio-rounds" in lines[2]


@pytest.mark.parametrize(
    ("speedups", "reliable"),
    [([1.2, 3.0, 1.5, 2.6, 1.3, 2.8], True), ([0.97, 1.01, 0.99, 1.02, 0.98, 1.0], True)],
    ids=["wide-but-above-1", "narrow-around-1"],
)
def test_a_speedup_known_to_be_a_gain_or_none_is_reliable(
    speedups: list[float], reliable: bool, tmp_path: Path
) -> None:
    """An interval that is wide (1.2x to 3x) but above 1 still says: use it, it beats sequential; one around 1
    but narrow says it does not. Either can be acted on."""
    run = {
        "fileio": {"profile": "quick"},
        "benchmarks": [
            bench("sequential-w1", [1.0] * 6),
            bench("threads-w2", [1 / speedup for speedup in speedups]),
        ],
    }
    [verdict] = verdicts(saved(tmp_path, run))
    assert verdict.reliable is reliable and verdict.notes == []
    assert not report([verdict])[1].endswith("[UNRELIABLE]")


def test_warm_and_cold_are_judged_apart(tmp_path: Path) -> None:
    """One job measured warm and cold gives two verdicts: in a running program processes wins; in a script run
    once (its start-up paid every round) sequential does, each speed-up over sequential started alike."""
    warm = run_json({"control-w1": 0.2, "sequential-w1": 1.0, "processes-w2": 0.4}, ceiling=0.3)
    cold = run_json(
        {"control-w1": 0.5, "sequential-w1": 1.5, "processes-w2": 2.0}, machine=WANDERING, start="cold"
    )
    mixed = joined(warm, cold)
    mixed["benchmarks"] = [mixed["benchmarks"][index] for index in (3, 0, 4, 1, 5, 2)]  # saved interleaved
    by_start = {verdict.start: verdict for verdict in verdicts(saved(tmp_path, mixed))}
    assert set(by_start) == {"warm", "cold"}
    assert by_start["warm"].fastest == "processes w2" and round(by_start["warm"].speedup, 2) == 2.5
    assert by_start["cold"].fastest == "sequential" and by_start["cold"].speedup == 1.0
    lines = report([by_start["warm"], by_start["cold"]])
    assert lines[1].startswith("csv-none, in a running program: use processes w2, 2.50x sequential")
    assert lines[2].startswith(
        "csv-none, a script run once (a fresh interpreter, its start-up included): use sequential, 1.00x"
    )
    assert recommendation([by_start["warm"], by_start["cold"]]) == [
        "- making the bytes costs CPU (Python-generated CSV): processes w2 (csv-none, warm), "
        "sequential (csv-none, cold)"
    ]


def test_recommendation_across_jobs(tmp_path: Path) -> None:
    """Each job is classed by its saved kind and durability: CSV, ready bytes, durable."""
    csv = run_json({"sequential-w1": 1.0, "processes-w2": 0.5})
    payload = run_json({"sequential-w1": 1.0, "threads-w2": 0.5}, job="256KiB-none", kind="payload")
    durable = run_json(
        {"sequential-w1": 1.0, "threads-w4": 0.3}, job="256KiB-atomic", kind="payload", durability="atomic"
    )
    assert recommendation(verdicts(saved(tmp_path, joined(csv, payload, durable)))) == [
        "- making the bytes costs CPU (Python-generated CSV): processes w2 (csv-none, warm)",
        "- ready bytes into the page cache: threads w2 (256KiB-none, warm)",
        "- durable saves (fsync or atomic): threads w4 (256KiB-atomic, warm)",
    ]


def test_the_kind_comes_from_the_fields_not_the_name(tmp_path: Path) -> None:
    """A user's workload whose job name says csv is still "your own workload"; a job whose name says none is
    durable when its saved durability is fsync (and named from it): the verdict never parses names."""
    custom = run_json({"sequential-w1": 1.0, "threads-w2": 0.5}, job="csv-none", kind="custom")
    fsynced = run_json(
        {"sequential-w1": 1.0, "processes-w2": 0.5}, job="Reports-none", kind="custom", durability="fsync"
    )
    judged = verdicts(saved(tmp_path, joined(custom, fsynced)))
    assert [(verdict.job, verdict.kind, verdict.durability) for verdict in judged] == [
        ("csv-none", "custom", "none"),
        ("Reports-fsync", "custom", "fsync"),
    ]
    assert recommendation(judged) == [
        "- your own workload: threads w2 (csv-none, warm)",
        "- durable saves (fsync or atomic): processes w2 (Reports-fsync, warm)",
    ]


def test_auto_is_measured_against_the_fastest_not_chosen(tmp_path: Path) -> None:
    """auto faster than every strategy is not the verdict (it chooses among them): it is measured against the
    fastest strategy, sweep by sweep."""
    run = saved(tmp_path, run_json({"sequential-w1": 1.0, "threads-w2": 0.5, "auto-w2": 0.4}))
    [verdict] = verdicts(run)
    assert verdict.fastest == "threads w2" and round(verdict.auto, 6) == 1.25
    assert report([verdict])[1].endswith("; auto reached 125% of its speed")


def test_the_warm_pool_answers_for_saves_batch_after_batch(tmp_path: Path) -> None:
    """A warm pool faster than every case is not the verdict on one save (its start-up is not in its time);
    the line names it, with its speed against the fastest case, and auto is measured against that case."""
    cases = {
        "sequential-w1": 1.0,
        "processes-w2": 0.6,
        "auto-w2": 0.6,
        "warm_pool-w2": 0.4,
        "warm_pool-w4": 0.5,
    }
    [verdict] = verdicts(saved(tmp_path, run_json(cases)))
    assert verdict.fastest == "processes w2" and round(verdict.auto, 6) == 1.0
    assert "warm_pool w2" not in verdict.ties
    assert (verdict.warm, round(verdict.warm_speed, 2)) == ("warm_pool w2", 1.5)
    assert report([verdict])[1].endswith(
        "; auto reached 100% of its speed; batch after batch (no start-up): warm_pool w2, 1.50x its speed"
    )


def test_without_sequential_there_is_no_speedup() -> None:
    """Without a sequential case started alike there is nothing to be faster than: no speed-up, no interval,
    and nothing to call unreliable."""
    [((job, start), cases)] = read_cases(run_json({"threads-w2": 0.5, "processes-w2": 0.9})).items()
    assert job == Job.csv(10, "none") and start == "warm"
    verdict = judge(job, start, cases)
    assert verdict.speedup is None and verdict.low is None and verdict.fastest == "threads w2"
    assert verdict.reliable
    assert line(verdict) == "csv-none, in a running program: use threads w2, peak 12 MB"


def test_runs_without_the_jobs_fields_are_left_out() -> None:
    """A case saved without its job's fields (an older suite) or without raw rounds is not judged."""
    run = run_json({"sequential-w1": 1.0, "threads-w2": 0.5})
    del run["benchmarks"][0]["extra_info"]["job"]
    run["benchmarks"][1]["stats"]["data"] = []
    assert verdicts(run) == []


def test_the_fastest_is_the_fastest_by_the_speed_up_column_not_by_the_median() -> None:
    """A case whose rounds fell in the machine's slow sweeps has the higher median but the higher speed-up,
    sweep by sweep: the verdict names it, as the table's speed-up column ranks it."""
    sequential = [1.0, 1.0, 1.0, 3.0, 3.0, 3.0, 3.0]
    unlucky = [0.4, 0.4, 0.4, 3.0, 3.0, 3.0, 3.0]  # 2.5x in three sweeps, 1x in four: median 3.0
    steady = [0.9, 0.9, 0.9, 2.0, 2.0, 2.0, 2.0]  # 1.1x and 1.5x: median 2.0
    run = {
        "benchmarks": [
            bench("sequential-w1", sequential),
            bench("threads-w2", unlucky),
            bench("processes-w2", steady),
        ]
    }
    (verdict,) = verdicts(run)
    assert statistics.median(unlucky) > statistics.median(steady)
    assert verdict.fastest == "threads w2" and verdict.speedup > 1.3


def test_the_last_run_saved_here_is_said_beside_the_interval(tmp_path: Path) -> None:
    """The interval covers this run's sweeps; beside it, what the same case gave in the last run saved on
    this machine, so that a reader sees how far two runs here differ. A case the last run lacked: nothing."""
    run = saved(tmp_path, run_json({"sequential-w1": 1.0, "processes-w2": 0.5, "threads-w2": 0.8}))
    last = run_json({"sequential-w1": 1.0, "processes-w2": 0.6})
    last["benchmarks"][1]["extra_info"]["speedup"] = 1.6
    [verdict] = verdicts(run, last)
    assert (verdict.fastest_id, verdict.last_run) == ("processes-w2-csv-none", 1.6)
    assert "2.00x sequential (95% CI 2.00-2.00 over this run's 6 sweeps; the last run saved here: 1.60x)" in (
        line(verdict)
    )
    del last["benchmarks"][1]
    [alone] = verdicts(run, last)
    assert alone.last_run is None and "the last run saved here" not in line(alone)
