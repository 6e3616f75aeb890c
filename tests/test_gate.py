"""python -m bench.gate: each case's time over its job's control in the same sweep, the change of its typical
ratio between two runs, a threshold and a bootstrap interval, clear exits."""

from __future__ import annotations

import json
import math
import random
import re
import statistics
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from bench.gate import GateInputError, compare, run_from_json

ROOT = Path(__file__).resolve().parents[1]

# Each case: (strategy, workers, job, start) -> its median seconds. One control per job and start.
CASES = {
    ("control", 1, "csv-none", "warm"): 0.30,
    ("sequential", 1, "csv-none", "warm"): 0.32,
    ("processes", 2, "csv-none", "warm"): 0.24,
    ("control", 1, "256KiB-none", "warm"): 0.06,
    ("threads", 2, "256KiB-none", "warm"): 0.07,
    ("control", 1, "csv-none", "cold"): 0.40,
    ("sequential", 1, "csv-none", "cold"): 0.45,
}
COMPARED = 4  # the cases that are not controls
SLOWER = "processes-w2-csv-none"
QUIET = [1.00, 1.03, 0.98, 1.05, 0.97, 1.01]  # what the machine did in each of six sweeps: little
WANDERING = [1.00, 1.50, 0.75, 1.35, 0.85, 1.60]  # a busy machine: every case of a sweep slowed alike


def case_id(strategy: str, workers: int, job: str, start: str) -> str:
    return f"{strategy}-w{workers}-{job}" + ("-cold" if start == "cold" else "")


def run_json(
    profile: str = "quick",
    seed: int = 0,
    machine: list[float] = QUIET,
    scale: Mapping[str, float | list[float]] | None = None,
) -> dict[str, Any]:
    """A saved run as pytest-benchmark writes it: in each sweep every case's median times the machine's
    factor of that sweep and a jitter of its own (+-2 %, from ``seed``); ``scale`` slows a case (id, or "*"
    for every case) by one factor, or by a factor per sweep."""
    jitter = random.Random(seed)
    scale = scale or {}
    benchmarks = []
    for (strategy, workers, job, start), median in CASES.items():
        param = case_id(strategy, workers, job, start)
        factor = scale.get(param, scale.get("*", 1.0))
        factors = factor if isinstance(factor, list) else [factor] * len(machine)
        data = [
            median * sweep * slower * jitter.uniform(0.98, 1.02)
            for sweep, slower in zip(machine, factors, strict=True)
        ]
        info = {"strategy": strategy, "workers": workers, "start": start, "job": job, "job_kind": "csv"}
        benchmarks.append({"param": param, "extra_info": info, "stats": {"data": data}})
    return {"fileio": {"profile": profile, "rounds": len(machine)}, "benchmarks": benchmarks}


def gate_paths(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python -m bench.gate ARGS`` in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "bench.gate", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def gate(tmp_path: Path, baseline: Any, current: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """Write the two runs (None: leave the file missing; a string: the file's text) and gate them."""
    paths = []
    for name, run in (("baseline", baseline), ("current", current)):
        path = tmp_path / f"{name}.json"
        if run is not None:
            path.write_text(run if isinstance(run, str) else json.dumps(run))
        paths.append(path)
    return gate_paths(*paths, *args)


def rows(done: subprocess.CompletedProcess[str]) -> dict[str, tuple[float, str]]:
    """The report's rows: case -> (its change in %, its verdict; a wide interval may touch the verdict)."""
    found = {}
    for text in done.stdout.splitlines():
        match = re.match(r"(\S+) +[\d.]+ +[\d.]+ +([+-][\d.]+)% +\[.*\] *(.+)$", text)
        if match:
            found[match[1]] = (float(match[2]), match[3])
    return found


def test_log_ratios_are_taken_sweep_by_sweep() -> None:
    """A run's measure of a case is log(case / control) in each sweep, against the control of its own job and
    start; the controls themselves are not compared."""
    data = run_json(machine=WANDERING)
    rounds = {bench["param"]: bench["stats"]["data"] for bench in data["benchmarks"]}
    run = run_from_json(data, "run")
    assert run.profile == "quick"
    assert set(run.log_ratios) == {
        "sequential-w1-csv-none",
        "processes-w2-csv-none",
        "threads-w2-256KiB-none",
        "sequential-w1-csv-none-cold",
    }
    for case, control in (
        ("processes-w2-csv-none", "control-w1-csv-none"),
        ("threads-w2-256KiB-none", "control-w1-256KiB-none"),
        ("sequential-w1-csv-none-cold", "control-w1-csv-none-cold"),
    ):
        expected = [math.log(a / b) for a, b in zip(rounds[case], rounds[control], strict=True)]
        assert run.log_ratios[case] == pytest.approx(expected)


def test_unchanged_runs_pass(tmp_path: Path) -> None:
    """Two runs of the same code, with other jitter and another machine mood: exit 0, every case ok."""
    done = gate(tmp_path, run_json(), run_json(seed=1, machine=[1.1 * factor for factor in reversed(QUIET)]))
    assert done.returncode == 0, done.stdout + done.stderr
    assert {verdict for _, verdict in rows(done).values()} == {"ok"} and len(rows(done)) == COMPARED
    assert done.stdout.splitlines()[-1] == f"no regression over 10% in {COMPARED} cases"


def test_one_slower_case_fails_and_is_named(tmp_path: Path) -> None:
    """One case 30 % slower in every sweep: exit 1, that case named with a change near +30 %, the others
    ok."""
    done = gate(tmp_path, run_json(), run_json(seed=1, scale={SLOWER: 1.3}))
    assert done.returncode == 1, done.stdout + done.stderr
    found = rows(done)
    change, verdict = found.pop(SLOWER)
    assert verdict == "REGRESSED" and 25 < change < 35
    assert {verdict for _, verdict in found.values()} == {"ok"}
    assert done.stdout.splitlines()[-1] == (
        f"1 of {COMPARED} cases regressed by more than 10% (significant at 95%): {SLOWER}"
    )


def test_uniformly_slower_machine_passes(tmp_path: Path) -> None:
    """Every case, the controls included, 50 % slower: the ratios are unchanged, exit 0."""
    done = gate(tmp_path, run_json(), run_json(seed=1, scale={"*": 1.5}))
    assert done.returncode == 0, done.stdout
    assert all(abs(change) < 5 and verdict == "ok" for change, verdict in rows(done).values())


def test_drift_within_the_run_is_not_a_regression(tmp_path: Path) -> None:
    """A job's cases slower (by 60 %) in half of the sweeps, its control slower in the same sweeps: the
    machine moved within the run, the case did not, so the gate passes. Compared without pairing, the case's
    median alone would read 30 % slower."""
    drift = [1.0, 1.6, 1.0, 1.6, 1.0, 1.6]
    job = ("control-w1-csv-none", "sequential-w1-csv-none", SLOWER)
    baseline, drifted = run_json(), run_json(seed=1, scale=dict.fromkeys(job, drift))
    done = gate(tmp_path, baseline, drifted)
    assert done.returncode == 0, done.stdout
    assert all(abs(change) < 5 and verdict == "ok" for change, verdict in rows(done).values())
    before, after = (
        next(bench["stats"]["data"] for bench in run["benchmarks"] if bench["param"] == SLOWER)
        for run in (baseline, drifted)
    )
    assert statistics.median(after) / statistics.median(before) > 1.2


def test_a_slowdown_is_found_through_the_machines_wandering(tmp_path: Path) -> None:
    """On a machine that wanders by up to 60 % from sweep to sweep, one case 30 % slower is still found: its
    ratio to the control of the same sweep is as steady as on a quiet machine. The others stay ok."""
    baseline = run_json(machine=WANDERING)
    current = run_json(
        seed=1, machine=[WANDERING[index] for index in (3, 5, 0, 2, 4, 1)], scale={SLOWER: 1.3}
    )
    done = gate(tmp_path, baseline, current)
    assert done.returncode == 1, done.stdout
    found = rows(done)
    assert found.pop(SLOWER)[1] == "REGRESSED"
    assert {verdict for _, verdict in found.values()} == {"ok"}


def test_a_slower_control_alone_is_not_a_regression(tmp_path: Path) -> None:
    """Only the controls slower makes every ratio smaller: cases read as faster, never as regressed."""
    controls = {case_id(*case): 1.5 for case in CASES if case[0] == "control"}
    done = gate(tmp_path, run_json(), run_json(seed=1, scale=controls))
    assert done.returncode == 0
    assert {verdict for _, verdict in rows(done).values()} == {"faster"}


def test_cold_cases_are_compared_with_the_cold_control(tmp_path: Path) -> None:
    """A slower interpreter start-up (the cold control and the cold case 50 % slower) is not a regression of
    the cold case: it is compared with the control started alike, not the warm one."""
    slower_start = {"control-w1-csv-none-cold": 1.5, "sequential-w1-csv-none-cold": 1.5}
    done = gate(tmp_path, run_json(), run_json(seed=1, scale=slower_start))
    assert done.returncode == 0, done.stdout
    change, verdict = rows(done)["sequential-w1-csv-none-cold"]
    assert verdict == "ok" and abs(change) < 5
    regressed = gate(tmp_path, run_json(), run_json(seed=1, scale={"sequential-w1-csv-none-cold": 1.3}))
    assert regressed.returncode == 1
    assert regressed.stdout.splitlines()[-1].endswith(": sequential-w1-csv-none-cold")


def test_threshold_option(tmp_path: Path) -> None:
    """A 30 % slowdown passes a 40 % threshold and fails a 20 % one."""
    slower = run_json(seed=1, scale={"threads-w2-256KiB-none": 1.3})
    assert gate(tmp_path, run_json(), slower, "--threshold", "40").returncode == 0
    assert gate(tmp_path, run_json(), slower, "--threshold", "20").returncode == 1


def test_noisy_slowdown_is_not_significant(tmp_path: Path) -> None:
    """Over the threshold but within the noise of the sweeps (the case's ratio to its control swings from
    0.8x to 2x): reported, not failed."""
    noisy = run_json(seed=1, scale={"threads-w2-256KiB-none": [0.8, 2.0, 0.9, 1.9, 1.0, 1.8]})
    done = gate(tmp_path, run_json(), noisy)
    assert done.returncode == 0, done.stdout
    change, verdict = rows(done)["threads-w2-256KiB-none"]
    assert change > 10 and verdict == "not significant"


def test_a_case_measured_in_fewer_sweeps_is_compared_over_its_first(tmp_path: Path) -> None:
    """A case with fewer rounds than its control (the gate decided it early, and it was measured no more)
    ran in the run's first sweeps: its rounds are divided by the control's rounds of those sweeps. On a
    machine that wanders by 2x between sweeps, any other pairing would read far from the 30 % it is."""
    current = run_json(seed=1, machine=WANDERING, scale={SLOWER: 1.3})
    for bench in current["benchmarks"]:
        if bench["param"] == SLOWER:
            bench["stats"]["data"] = bench["stats"]["data"][:4]
    assert len(run_from_json(current, "current").log_ratios[SLOWER]) == 4
    done = gate(tmp_path, run_json(machine=WANDERING), current)
    assert done.returncode == 1, done.stdout
    change, verdict = rows(done)[SLOWER]
    assert 25 < change < 35 and verdict == "REGRESSED", done.stdout
    assert len(rows(done)) == COMPARED


def test_two_sides_of_one_session_are_compared_sweep_by_sweep(tmp_path: Path) -> None:
    """CI's parent and new commit measured in the same sweeps (one session, --fileio-baseline): a case 30 %
    slower in every sweep is REGRESSED even when each side's control swings by 30 % on its own, because the
    two sides' rounds of the case are compared sweep by sweep; saved by two sessions, the same rounds are
    within that noise."""
    swings = {"control-w1-csv-none": [0.7, 1.3, 0.8, 1.25, 0.75, 1.35]}
    other_swings = {"control-w1-csv-none": [1.3, 0.75, 1.25, 0.7, 1.35, 0.8]}
    baseline = run_json(machine=WANDERING, scale=swings)
    current = run_json(seed=1, machine=WANDERING, scale={**other_swings, SLOWER: 1.3})
    apart = gate(tmp_path, baseline, current)
    assert apart.returncode == 0, apart.stdout
    assert rows(apart)[SLOWER][1] == "not significant"
    for run in (baseline, current):
        run["fileio"]["session"] = "one-session"
    together = gate(tmp_path, baseline, current)
    assert together.returncode == 1, together.stdout
    change, verdict = rows(together)[SLOWER]
    assert verdict == "REGRESSED" and 25 < change < 35
    assert rows(together)["sequential-w1-csv-none"][1] == "ok"


def test_runs_of_different_profiles_are_not_compared() -> None:
    """compare() refuses two runs of different profiles, naming both."""
    with pytest.raises(GateInputError, match="different profiles: baseline quick, current full"):
        compare(run_from_json(run_json(), "a"), run_from_json(run_json(profile="full"), "b"))


def without_raw_data() -> dict[str, Any]:
    run = run_json()
    del run["benchmarks"][0]["stats"]["data"]
    return run


def without_start() -> dict[str, Any]:
    """A run saved by the suite before cold cases: no start in extra_info."""
    run = run_json()
    for bench in run["benchmarks"]:
        del bench["extra_info"]["start"]
    return run


def without_extra_info() -> dict[str, Any]:
    run = run_json()
    del run["benchmarks"][1]["extra_info"]
    return run


def renamed() -> dict[str, Any]:
    run = run_json()
    for bench in run["benchmarks"]:
        bench["param"] = "other-" + bench["param"]
    return run


def without_controls() -> dict[str, Any]:
    run = run_json()
    run["benchmarks"] = [bench for bench in run["benchmarks"] if bench["extra_info"]["strategy"] != "control"]
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
        pytest.param(
            without_start(),
            "saved by an older benchmark suite (no job or start in extra_info)",
            id="no-start",
        ),
        pytest.param(without_extra_info(), "saved by an older benchmark suite", id="no-extra-info"),
        pytest.param(renamed(), "no cases in common with a control case in both runs", id="no-common-cases"),
        pytest.param(
            without_controls(), "no cases in common with a control case in both runs", id="no-controls"
        ),
        pytest.param(
            run_json(profile="seed"), "different profiles: baseline quick, current seed", id="profiles"
        ),
    ],
)
def test_unusable_input_exits_2(current: Any, message: str, tmp_path: Path) -> None:
    """Unusable input: exit 2 with one line saying what is wrong."""
    done = gate(tmp_path, run_json(), current)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1 and message in done.stderr, done.stderr


def test_directories_pool_their_runs(tmp_path: Path) -> None:
    """A directory stands for all its runs, sweeps pooled: a 30 % slower case in both new runs fails."""
    for side, scale in (("parent", 1.0), ("new", 1.3)):
        (tmp_path / side).mkdir()
        for index in range(2):
            run = run_json(seed=10 * index + len(side), scale={"sequential-w1-csv-none": scale})
            (tmp_path / side / f"{index}.json").write_text(json.dumps(run))
    done = gate_paths(tmp_path / "parent", tmp_path / "new")
    assert done.returncode == 1, done.stdout
    assert done.stdout.splitlines()[-1].endswith(": sequential-w1-csv-none")


def test_a_directory_of_different_profiles_is_refused(tmp_path: Path) -> None:
    """Runs of different profiles in one directory are not pooled: exit 2, naming both."""
    (tmp_path / "mixed").mkdir()
    for profile in ("quick", "seed"):
        (tmp_path / "mixed" / f"{profile}.json").write_text(json.dumps(run_json(profile=profile)))
    (tmp_path / "quick.json").write_text(json.dumps(run_json()))
    done = gate_paths(tmp_path / "quick.json", tmp_path / "mixed")
    assert done.returncode == 2
    assert "runs of different profiles pooled: quick, seed" in done.stderr


def with_capacity(run: dict[str, Any], capacities: list[float]) -> dict[str, Any]:
    """The run, its csv job's ceiling having measured these capacities at 2 workers, one per sweep."""
    for bench in run["benchmarks"]:
        if bench["extra_info"]["job"] == "csv-none":
            bench["extra_info"]["capacity_rounds"] = capacities
    return run


GAVE = [1.90, 1.95, 1.88, 1.93, 1.97, 1.91]  # what 2 workers made of bytes, x one's, in each of six sweeps


@pytest.mark.parametrize(
    ("later", "said"),
    [
        pytest.param([value * 0.8 for value in GAVE], "more than the noise", id="host-gave-less"),
        pytest.param(list(reversed(GAVE)), "within the noise", id="unchanged"),
    ],
)
def test_the_report_says_what_the_machine_gave_each_run(
    later: list[float], said: str, tmp_path: Path
) -> None:
    """Two runs made minutes apart: where the machine's capacity differs by more than the noise, the report
    says so next to its table (the parallel cases' changes are then partly the machine's); where not, that it
    is within the noise. The gate's verdicts are the cases' own either way."""
    done = gate(tmp_path, with_capacity(run_json(seed=1), GAVE), with_capacity(run_json(seed=2), later))
    assert done.returncode == 0, done.stderr
    [note] = [line for line in done.stdout.splitlines() if line.startswith("note: ")]
    assert note.startswith("note: csv-none: the machine gave 2 workers") and said in note
    assert ("-20%" in note) == (said == "more than the noise")


def test_runs_without_a_capacity_get_no_note(tmp_path: Path) -> None:
    """Two sides of one session share their sweeps, and the baseline side's saved run has no capacity: no
    note."""
    done = gate(tmp_path, run_json(seed=1), with_capacity(run_json(seed=2), GAVE))
    assert done.returncode == 0 and "note:" not in done.stdout, done.stdout
