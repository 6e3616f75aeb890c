"""The verdict (bench/verdict.py) from small saved runs with known rounds: the fastest case, its interval,
ties, and a job marked unreliable when its controls drifted apart."""

from __future__ import annotations

import json
from pathlib import Path

from bench.verdict import judge, read_cases, recommendation, report, verdicts

QUIET = [1.00, 1.02, 0.98, 1.01, 0.99]


def run_json(cases: dict[str, float], job: str = "csv-none", spread: list[float] = QUIET) -> dict:
    """A saved run: every case's rounds its median times the same quiet spread."""
    benchmarks = []
    for name, median in cases.items():
        strategy, workers = name.rsplit("-w", 1)
        info = {
            "strategy": strategy,
            "workers": int(workers),
            "job": job,
            "efficiency": 0.5,
            "peak_rss_mb": 12.0,
        }
        benchmarks.append(
            {"param": f"{name}-{job}", "extra_info": info, "stats": {"data": [median * f for f in spread]}}
        )
    return {"fileio": {"profile": "quick"}, "benchmarks": benchmarks}


def saved(tmp_path: Path, run: dict) -> dict:
    path = tmp_path / "run.json"
    path.write_text(json.dumps(run))
    return json.loads(path.read_text())


def test_clear_winner_with_interval(tmp_path: Path) -> None:
    """A strategy twice as fast as sequential in every round: named, 2.00x, an interval around 2, no tie."""
    run = saved(
        tmp_path,
        run_json(
            {
                "control-w1": 1.0,
                "sequential-w1": 1.0,
                "processes-w2": 0.5,
                "threads-w2": 0.9,
                "control_again-w1": 1.0,
            }
        ),
    )
    [verdict] = verdicts(run)
    assert verdict.fastest == "processes w2" and verdict.reliable and verdict.ties == []
    assert round(verdict.speedup, 2) == 2.0 and verdict.low < 2.0 < verdict.high and verdict.low > 1.8
    assert report([verdict])[1] == (
        "csv-none: use processes w2, 2.00x sequential (95% CI "
        f"{verdict.low:.2f}-{verdict.high:.2f}), 50% of this machine's ceiling, peak 12 MB"
    )


def test_overlapping_cases_are_ties(tmp_path: Path) -> None:
    """threads w2 and sequential 2 % apart with a 4 % spread: within noise, named as a tie."""
    run = saved(tmp_path, run_json({"sequential-w1": 1.0, "threads-w2": 0.98, "processes-w2": 1.5}))
    [verdict] = verdicts(run)
    assert verdict.fastest == "threads w2" and verdict.ties == ["sequential"]
    assert verdict.low < 1.0 < verdict.high
    assert report([verdict])[1].endswith("; within noise of it: sequential")


def test_drifting_controls_mark_the_job_unreliable(tmp_path: Path) -> None:
    """control_again 2.2x slower than control: the job's verdict is unreliable and says what to do."""
    run = saved(
        tmp_path,
        run_json({"control-w1": 0.063, "sequential-w1": 0.1, "threads-w2": 0.08, "control_again-w1": 0.14}),
    )
    [verdict] = verdicts(run)
    assert not verdict.reliable and round(verdict.drift, 2) == 1.22
    lines = report([verdict])
    assert lines[1].endswith("[UNRELIABLE]")
    assert "drifted +122% within this job" in lines[2] and "--fileio-dir" in lines[2]


def test_recommendation_across_jobs(tmp_path: Path) -> None:
    csv = run_json({"sequential-w1": 1.0, "processes-w2": 0.5})
    payload = run_json({"sequential-w1": 1.0, "threads-w2": 0.5}, job="256KiB-none")
    durable = run_json({"sequential-w1": 1.0, "threads-w4": 0.3}, job="256KiB-atomic")
    run = saved(
        tmp_path, {**csv, "benchmarks": csv["benchmarks"] + payload["benchmarks"] + durable["benchmarks"]}
    )
    assert recommendation(verdicts(run)) == [
        "- making the bytes costs CPU (Python-generated CSV): processes w2 (csv-none)",
        "- ready bytes into the page cache: threads w2 (256KiB-none)",
        "- durable saves (fsync or atomic): threads w4 (256KiB-atomic)",
    ]


def test_auto_is_measured_against_the_fastest_not_chosen(tmp_path: Path) -> None:
    run = saved(tmp_path, run_json({"sequential-w1": 1.0, "threads-w2": 0.5, "auto-w2": 0.4}))
    [verdict] = verdicts(run)
    assert verdict.fastest == "threads w2" and verdict.auto == 0.5 / 0.4
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
    assert verdict.fastest == "processes w2" and verdict.auto == 1.0 and "warm_pool w2" not in verdict.ties
    assert (verdict.warm, round(verdict.warm_speed, 2)) == ("warm_pool w2", 1.5)
    assert report([verdict])[1].endswith(
        "; auto reached 100% of its speed; batch after batch (no start-up): warm_pool w2, 1.50x its speed"
    )


def test_without_sequential_there_is_no_speedup() -> None:
    [(job, cases)] = read_cases(run_json({"threads-w2": 0.5, "processes-w2": 0.9})).items()
    verdict = judge(job, cases)
    assert verdict.speedup is None and verdict.fastest == "threads w2"
    assert "sequential (" not in report([verdict])[1]
