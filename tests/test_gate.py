"""python -m bench.gate: ratios to the control, a threshold and a confidence interval, clear exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SPREAD = [1.00, 1.04, 0.97, 1.06, 0.98]  # a typical quiet spread over five rounds
CASES = {
    "control-w1-csv-none": 0.30,
    "sequential-w1-csv-none": 0.32,
    "processes-w2-csv-none": 0.24,
    "control_again-w1-csv-none": 0.30,
    "control-w1-256KiB-none": 0.06,
    "threads-w2-256KiB-none": 0.07,
    "control_again-w1-256KiB-none": 0.06,
}


def run_json(profile: str = "quick", scale: dict[str, float] | None = None, shift: int = 0) -> dict:
    """A saved run as pytest-benchmark writes it, every case's rounds spread like a quiet machine's."""
    scale = scale or {}
    benchmarks = []
    for case, median in CASES.items():
        spread = SPREAD[shift:] + SPREAD[:shift]
        data = [median * factor * scale.get(case, scale.get("*", 1.0)) for factor in spread]
        strategy, workers, job = case.split("-", 2)
        info = {"strategy": strategy, "workers": int(workers[1:]), "job": job}
        benchmarks.append({"param": case, "extra_info": info, "stats": {"data": data}})
    return {"fileio": {"profile": profile, "rounds": 5}, "benchmarks": benchmarks}


def gate(tmp_path: Path, baseline, current, *args: str) -> subprocess.CompletedProcess[str]:
    """Write the two runs (None: leave the file missing) and gate them."""
    paths = []
    for name, run in (("baseline", baseline), ("current", current)):
        path = tmp_path / f"{name}.json"
        if run is not None:
            path.write_text(run if isinstance(run, str) else json.dumps(run))
        paths.append(str(path))
    return subprocess.run(
        [sys.executable, "-m", "bench.gate", *paths, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def test_unchanged_runs_pass(tmp_path: Path) -> None:
    """Two runs of the same code, rounds in another order: exit 0, every case ok."""
    done = gate(tmp_path, run_json(), run_json(shift=2))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no regression over 10% in 3 cases" in done.stdout


def test_one_slower_case_fails_and_is_named(tmp_path: Path) -> None:
    """One case 30 % slower in every round: exit 1, that case named, the others ok."""
    done = gate(tmp_path, run_json(), run_json(scale={"processes-w2-csv-none": 1.3}, shift=1))
    assert done.returncode == 1, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("processes-w2-csv-none"))
    assert "+30.0%" in row and row.endswith("REGRESSED")
    assert done.stdout.splitlines()[-1] == (
        "1 of 3 cases regressed by more than 10% (significant at 95%): processes-w2-csv-none"
    )


def test_uniformly_slower_machine_passes(tmp_path: Path) -> None:
    """Every case, the control included, 50 % slower: the ratios are unchanged, exit 0."""
    done = gate(tmp_path, run_json(), run_json(scale={"*": 1.5}))
    assert done.returncode == 0, done.stdout
    assert "+0.0%" in done.stdout


def test_a_slower_control_alone_is_not_a_regression(tmp_path: Path) -> None:
    """Only the controls slower makes every ratio smaller: cases read as faster, never as regressed."""
    slower_controls = {"control-w1-csv-none": 1.5, "control_again-w1-csv-none": 1.5}
    done = gate(tmp_path, run_json(), run_json(scale=slower_controls))
    assert done.returncode == 0
    assert "faster" in done.stdout


def test_threshold_option(tmp_path: Path) -> None:
    """A 30 % slowdown passes a 40 % threshold and fails a 20 % one."""
    slower = run_json(scale={"threads-w2-256KiB-none": 1.3})
    assert gate(tmp_path, run_json(), slower, "--threshold", "40").returncode == 0
    assert gate(tmp_path, run_json(), slower, "--threshold", "20").returncode == 1


def test_noisy_slowdown_is_not_significant(tmp_path: Path) -> None:
    """Over the threshold but within the noise of the rounds: reported, not failed."""
    noisy = run_json()
    for bench in noisy["benchmarks"]:
        if bench["param"] == "threads-w2-256KiB-none":
            bench["stats"]["data"] = [0.05, 0.12, 0.06, 0.11, 0.08]
    done = gate(tmp_path, run_json(), noisy)
    assert done.returncode == 0, done.stdout
    assert "not significant" in done.stdout


def test_a_slowdown_within_the_controls_drift_is_not_significant(tmp_path: Path) -> None:
    """A case 30 % slower, in a run whose first control came out 15 % faster and its last 20 % slower: the
    machine moved that much within the run, so the change is reported as not significant, not failed."""
    scale = {"processes-w2-csv-none": 1.3, "control-w1-csv-none": 0.85, "control_again-w1-csv-none": 1.2}
    drifted = run_json(scale=scale)
    done = gate(tmp_path, run_json(), drifted)
    assert done.returncode == 0, done.stdout
    row = next(line for line in done.stdout.splitlines() if line.startswith("processes-w2-csv-none"))
    assert row.endswith("not significant")


def test_both_controls_are_pooled(tmp_path: Path) -> None:
    """The job's two control cases are pooled: one of them alone 50 % slower in every round moves the pooled
    median, and every ratio reads smaller; with only the first control the cases would not move at all."""
    done = gate(tmp_path, run_json(), run_json(scale={"control_again-w1-csv-none": 1.5}))
    assert done.returncode == 0
    row = next(line for line in done.stdout.splitlines() if line.startswith("sequential-w1-csv-none"))
    assert "-" in row.split()[3] and row.split()[3] != "-0.0%"


def without_raw_data() -> dict:
    run = run_json()
    del run["benchmarks"][0]["stats"]["data"]
    return run


def without_extra_info() -> dict:
    run = run_json()
    del run["benchmarks"][1]["extra_info"]
    return run


def renamed() -> dict:
    run = run_json()
    for bench in run["benchmarks"]:
        bench["param"] = "other-" + bench["param"]
    return run


@pytest.mark.parametrize(
    ("current", "message"),
    [
        pytest.param(None, "current.json: no such file or directory", id="missing-file"),
        pytest.param("{not json", "current.json: not a readable JSON file", id="not-json"),
        pytest.param({"benchmarks": []}, "not a fileio benchmark run", id="not-fileio"),
        pytest.param(
            without_raw_data(), "no raw round data; save runs with --benchmark-save-data", id="no-data"
        ),
        pytest.param(without_extra_info(), "saved by an older benchmark suite", id="no-extra-info"),
        pytest.param(renamed(), "no cases in common with a control case in both runs", id="no-common-cases"),
        pytest.param(
            run_json(profile="seed"), "different profiles: baseline quick, current seed", id="profiles"
        ),
    ],
)
def test_unusable_input_exits_2(current, message: str, tmp_path: Path) -> None:
    """Unusable input: exit 2 with one line saying what is wrong."""
    done = gate(tmp_path, run_json(), current)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr


def test_directories_pool_their_runs(tmp_path: Path) -> None:
    """A directory stands for all its runs, rounds pooled: how CI interleaves parent and new commit."""
    for side, scale in (("parent", 1.0), ("new", 1.3)):
        (tmp_path / side).mkdir()
        for index in range(2):
            run = run_json(scale={"sequential-w1-csv-none": scale}, shift=index)
            (tmp_path / side / f"{index}.json").write_text(json.dumps(run))
    done = subprocess.run(
        [sys.executable, "-m", "bench.gate", str(tmp_path / "parent"), str(tmp_path / "new")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "sequential-w1-csv-none" in done.stdout.splitlines()[-1]
