"""The benchmark matrix (bench/matrix.py), tested directly: profiles, options and the cases they make."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.control import ControlWorkload
from bench.matrix import (
    BENCH_STRATEGIES,
    COLD_STRATEGIES,
    GATE_BUDGET_S,
    GATE_MAX_SWEEPS,
    GATE_MIN_SWEEPS,
    PYTHONS_MIN_SWEEPS,
    QUICK_STRATEGIES,
    WARM_POOL,
    Case,
    Job,
    Kind,
    OptionError,
    Pool,
    Start,
    payload_files,
    read_settings,
)
from fileio import STRATEGIES, CsvWorkload, PayloadWorkload

CPUS = os.cpu_count() or 1
OTHERS = [name for name in BENCH_STRATEGIES if name != "sequential"]

WORKLOAD_MODULE = (
    "class Documents:\n"
    "    def file_name(self, file_id):\n        return f'doc-{file_id}.txt'\n"
    "    def data(self, file_id):\n        return str(file_id).encode()\n"
    "def make():\n    return Documents()\n"
)


def ids(**options: str) -> list[str]:
    return [case.id for case in read_settings(options).cases]


def quick_job_ids(job: str) -> list[str]:
    """What the quick profile measures of one job, in order, written out from its description."""
    return [
        f"control-w1-{job}",
        f"sequential-w1-{job}",
        *[f"{name}-w{CPUS}-{job}" for name in QUICK_STRATEGIES if name != "sequential"],
        f"control-w1-{job}-cold",
        f"sequential-w1-{job}-cold",
        f"threads-w{CPUS}-{job}-cold",
        f"process_batches-w{CPUS}-{job}-cold",
        f"auto-w{CPUS}-{job}-cold",
    ]


@pytest.fixture
def my_workload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A user's workload module on sys.path: ``my_workload:make`` makes ``Documents``."""
    (tmp_path / "my_workload.py").write_text(WORKLOAD_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "my_workload:make"


def test_quick_strategies_are_those_that_can_win_on_a_small_machine() -> None:
    """quick measures the strategies that won a job on a 2-core VM, the warm pool
    and auto."""
    assert set(QUICK_STRATEGIES) == {
        "sequential",
        "threads",
        "processes",
        "process_batches",
        "auto",
        WARM_POOL,
    }
    assert set(QUICK_STRATEGIES) <= set(BENCH_STRATEGIES)
    assert WARM_POOL in QUICK_STRATEGIES and "auto" in QUICK_STRATEGIES


def test_quick_profile() -> None:
    """quick: a CSV job (24 files), a 256 KiB job (256 files) into the page cache and a durable job (128
    atomic files of 64 KiB); each opens with its one control and sequential, then every other quick strategy
    at as many workers as CPUs, then the cold cases; at least 3 sweeps, at most 100, 32 s per job."""
    settings = read_settings({})
    assert settings.profile == "quick" and settings.gate is None and settings.notes == ()
    assert (settings.rounds, settings.max_rounds, settings.budget_s) == (3, 100, 32.0)
    jobs = ["csv-none", "256KiB-none", "64KiB-atomic"]
    assert [case.id for case in settings.cases] == [case for job in jobs for case in quick_job_ids(job)]
    first = {case.job.name: case.job for case in settings.cases}
    assert first["csv-none"].workload == CsvWorkload() and first["csv-none"].files == 24
    assert first["256KiB-none"].workload == PayloadWorkload(256 * 1024) and first["256KiB-none"].files == 256
    assert first["64KiB-atomic"].workload == PayloadWorkload(64 * 1024) and first["64KiB-atomic"].files == 128
    assert [job.durability for job in first.values()] == ["none", "none", "atomic"]


def test_one_control_per_job_and_start() -> None:
    """Every job has exactly one control case warm and one cold, in every profile that measures cold cases,
    and no second control (the sweeps measure the control beside every case instead)."""
    for profile in ("quick", "full"):
        cases = read_settings({"profile": profile}).cases
        jobs = {case.job.name for case in cases}
        controls = [(case.job.name, case.start) for case in cases if case.kind == Kind.CONTROL]
        assert sorted(controls) == sorted((job, start) for job in jobs for start in ("warm", "cold"))
        assert {(case.strategy, case.name) for case in cases if case.kind == Kind.CONTROL} == {
            (None, "control")
        }


def test_cold_cases_are_marked_cold() -> None:
    """The cold cases (a fresh interpreter each round) say so: start "cold", an id ending in -cold
    and the start in their saved fields; control and sequential cold at one worker, the others at the
    largest pool size; only strategies the run measures warm are measured cold."""
    cases = read_settings({"strategies": "threads,processes", "workers": "1,4", "sizes": "csv"}).cases
    cold = [case for case in cases if case.start == "cold"]
    assert [case.id for case in cold] == ["control-w1-csv-none-cold", "threads-w4-csv-none-cold"]
    assert all(case.start == Start.COLD and case.extra_info()["start"] == "cold" for case in cold)
    warm = [case for case in cases if case not in cold]
    assert [case.id for case in warm] == [
        "control-w1-csv-none",
        "threads-w1-csv-none",
        "threads-w4-csv-none",
        "processes-w1-csv-none",
        "processes-w4-csv-none",
    ]
    assert not any(case.start == Start.COLD or case.id.endswith("-cold") for case in warm)
    assert {case.extra_info()["start"] for case in warm} == {"warm"}
    assert set(COLD_STRATEGIES) == {"control", "sequential", "threads", "process_batches", "auto"}


def test_sizes_or_durability_replace_the_profiles_jobs() -> None:
    """--fileio-sizes or --fileio-durability: the cross product alone, without the durable job, and a note
    that says so (the run prints it at the end)."""
    sizes = read_settings({"sizes": "4KiB"})
    assert {case.job.name for case in sizes.cases} == {"4KiB-none"}
    durability = read_settings({"durability": "fsync"})
    assert {case.job.name for case in durability.cases} == {"csv-fsync", "256KiB-fsync"}
    note = (
        "--fileio-sizes/--fileio-durability replace the quick profile's jobs: "
        "its 64KiB atomic job is left out"
    )
    assert sizes.notes == (note,) and durability.notes == (note,)
    assert read_settings({"workers": "1", "files": "3"}).notes == ()  # the durable job is kept
    assert read_settings({"profile": "full", "sizes": "4KiB"}).notes == ()  # full has no durable job to drop


def test_your_own_workload_replaces_the_jobs(my_workload: str) -> None:
    """--fileio-workload module:factory: one job per durability, 200 files a round, of kind "custom" (from its
    type, not its name), no control case warm or cold (the control cannot make a stranger's bytes)."""
    cases = read_settings({"workload": my_workload, "durability": "none,atomic", "workers": "2"}).cases
    assert [case.id for case in cases][:2] == ["sequential-w1-Documents-none", "threads-w2-Documents-none"]
    assert "sequential-w1-Documents-none-cold" in [case.id for case in cases]
    assert {case.job.name for case in cases} == {"Documents-none", "Documents-atomic"}
    assert not any(case.kind == Kind.CONTROL for case in cases)
    assert {case.job.files for case in cases} == {200}
    job = cases[0].job
    assert job.kind == "custom" and not job.has_control
    assert job.spec() == {"kind": "custom", "factory": my_workload}
    assert job.extra_info() == {
        "job": "Documents-none",
        "job_kind": "custom",
        "job_label": "Documents",
        "durability": "none",
        "files": 200,
        "size": 0,
        "factory": my_workload,
    }
    with pytest.raises(OptionError, match="--fileio-workload: 'my_workload:absent': AttributeError"):
        read_settings({"workload": "my_workload:absent"})


def test_a_workload_named_like_csv_is_still_custom(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job's kind comes from its workload's type: a user's class named ``csv`` makes a job called
    "csv-none", yet of kind "custom", with no control."""
    (tmp_path / "csv_like.py").write_text(WORKLOAD_MODULE.replace("Documents", "csv"))
    monkeypatch.syspath_prepend(str(tmp_path))
    job = read_settings({"workload": "csv_like:make"}).cases[0].job
    assert job.name == "csv-none" and job.kind == "custom" and job.extra_info()["job_kind"] == "custom"
    assert not job.has_control and Job.csv(3, "none").kind == "csv"


def test_a_jobs_spec_makes_the_controls_files_alike() -> None:
    """What a runner is sent (Job.spec, plain JSON data) makes the job's workload, and the control's own
    workload made from it has the same file names and bytes as fileio's."""
    for job in (Job.csv(3, "none"), Job.payload(5000, 3, "none"), Job.payload(65536, 3, "none")):
        workload = job.workload
        assert job.has_control
        control = ControlWorkload(**job.spec())
        for file_id in (0, 7, 1234):
            assert control.file_name(file_id) == workload.file_name(file_id)
            assert control.data(file_id) == workload.data(file_id)
    assert Job.payload(5000, 3, "fsync").spec() == {"kind": "payload", "size": 5000}
    assert job.workload == PayloadWorkload(65536) and Job.csv(3, "none").workload == CsvWorkload()


def test_payload_files_make_about_64_mib_a_round() -> None:
    """Payload jobs get ~64 MiB a round, within 16 to 2,000 files."""
    assert payload_files(256 * 1024) == 256 and payload_files(1 << 20) == 64
    assert payload_files(4096) == 2000 and payload_files(16 << 20) == 16


def test_seed_profile() -> None:
    """seed: the classic job, 5,000 files, its control, sequential and every strategy but dask at 8 workers,
    exactly 3 sweeps, no cold cases."""
    settings = read_settings({"profile": "seed"})
    assert settings.rounds == settings.max_rounds == 3 and settings.cases[1].job.files == 5000
    assert [case.id for case in settings.cases] == [
        "control-w1-csv-none",
        "sequential-w1-csv-none",
        *[f"{name}-w8-csv-none" for name in OTHERS if name != "dask"],
    ]


def test_full_profile_and_overrides() -> None:
    """full: 1..2 x CPUs workers, four payload sizes and CSV, three durabilities, every strategy, cold cases;
    options narrow it."""
    settings = read_settings({"profile": "full"})
    full = [case.id for case in settings.cases]
    workers = 2 * CPUS
    assert f"threads-w{workers}-16MiB-atomic" in full and "pipeline-w1-4KiB-fsync" in full
    assert "dask-w1-csv-none" in full and f"process_batches-w{workers}-1MiB-fsync-cold" in full
    cold_per_job = len(COLD_STRATEGIES)
    assert len(full) == 5 * 3 * (2 + len(OTHERS) * workers + cold_per_job)
    assert (settings.rounds, settings.max_rounds, settings.budget_s) == (5, 40, 60.0)
    narrowed = ids(profile="full", strategies="processes", workers="3", sizes="1MiB", durability="fsync")
    assert narrowed == ["control-w1-1MiB-fsync", "processes-w3-1MiB-fsync", "control-w1-1MiB-fsync-cold"]


def test_the_warm_pool_is_a_case_beside_the_strategies() -> None:
    """Every profile measures process_batches on a warm pool too: fileio's strategies, then warm_pool; it
    needs what process_batches needs, and is not measured cold (a script has no pool started before)."""
    assert (*STRATEGIES, WARM_POOL) == BENCH_STRATEGIES
    cases = read_settings({"strategies": "warm_pool", "workers": "2", "sizes": "csv"}).cases
    assert [case.id for case in cases] == [
        "control-w1-csv-none",
        "warm_pool-w2-csv-none",
        "control-w1-csv-none-cold",
    ]
    assert cases[1].unavailable_reason == STRATEGIES["process_batches"].unavailable_reason


def test_dask_only_when_asked_in_the_short_profiles() -> None:
    """quick and seed leave dask out (a cluster start-up every round); --fileio-strategies brings it back."""
    assert not any(case.strategy == "dask" for case in read_settings({}).cases)
    assert not any(case.strategy == "dask" for case in read_settings({"profile": "seed"}).cases)
    assert ids(strategies="dask", workers="2", sizes="csv") == [
        "control-w1-csv-none",
        "dask-w2-csv-none",
        "control-w1-csv-none-cold",
    ]


def test_files_rounds_dir_and_gate(tmp_path: Path) -> None:
    """--fileio-files sets every job's files; --fileio-rounds N means exactly N sweeps (at least and at most);
    --fileio-dir and --fileio-gate are kept."""
    settings = read_settings({"files": "7", "rounds": "2", "dir": str(tmp_path), "gate": "15"})
    assert {case.job.files for case in settings.cases} == {7}
    assert settings.rounds == settings.max_rounds == 2
    assert settings.directory == tmp_path and settings.gate == 15.0
    default = read_settings({})
    assert (default.rounds, default.max_rounds) == (3, 100) and default.directory is None


def test_the_gate_against_a_baseline_takes_the_sweeps_its_cases_need(tmp_path: Path) -> None:
    """--fileio-gate with --fileio-baseline: sweeps from GATE_MIN_SWEEPS up to GATE_MAX_SWEEPS, in a budget
    of its own, for the cases not yet decided (bench.sweep); --fileio-rounds still means exactly that many."""
    gated = read_settings({"gate": "10", "baseline": str(tmp_path)})
    assert (gated.rounds, gated.max_rounds) == (GATE_MIN_SWEEPS, GATE_MAX_SWEEPS)
    assert gated.budget_s == GATE_BUDGET_S
    exact = read_settings({"gate": "10", "baseline": str(tmp_path), "rounds": "30"})
    assert exact.rounds == exact.max_rounds == 30
    against_history = read_settings({"gate": "10"})
    assert (against_history.rounds, against_history.max_rounds) == (3, 100)


def test_a_run_with_other_pythons_sweeps_enough_to_name_a_slower_case() -> None:
    """With --fileio-python every job sweeps at least PYTHONS_MIN_SWEEPS times (bench.pythons makes no
    case-by-case call over fewer), the profile's budget bounding the rest; --fileio-rounds still rules."""
    pythons = read_settings({"python": "/usr/bin/python3"})
    assert (pythons.rounds, pythons.max_rounds) == (PYTHONS_MIN_SWEEPS, 100)
    assert pythons.budget_s == read_settings({}).budget_s
    seed = read_settings({"python": "/usr/bin/python3", "profile": "seed"})
    assert seed.rounds == seed.max_rounds == PYTHONS_MIN_SWEEPS
    exact = read_settings({"python": "/usr/bin/python3", "rounds": "4"})
    assert exact.rounds == exact.max_rounds == 4


def test_controls_carry_no_strategy_requirement() -> None:
    """The control is plain code: always available; its saved fields name the job and its kind."""
    case = read_settings({}).cases[0]
    assert case.kind == Kind.CONTROL and case.strategy is None and case.unavailable_reason is None
    assert case.extra_info() == {
        "strategy": None,
        "case": "control",
        "kind": "control",
        "pool": "new",
        "workers": 1,
        "start": "warm",
        "job": "csv-none",
        "job_kind": "csv",
        "job_label": "csv",
        "durability": "none",
        "files": 24,
        "size": 0,
        "factory": None,
    }


def test_a_kept_pool_is_process_batches_on_a_warm_pool() -> None:
    """``warm_pool`` in --fileio-strategies is process_batches on a kept pool: the name is the case's, for
    the tables and the ids; its fields say what it is."""
    [case] = [
        case for case in read_settings({"strategies": WARM_POOL, "sizes": "csv"}).cases if case.strategy
    ]
    assert (case.strategy, case.pool, case.kind, case.name) == (
        "process_batches",
        Pool.KEPT,
        Kind.STRATEGY,
        WARM_POOL,
    )
    assert case.id == f"warm_pool-w{CPUS}-csv-none" and case.unavailable_reason is None


@pytest.mark.parametrize(
    "case",
    [
        Case("threads", 2, Job.payload(4096, 10, "fsync"), Start.COLD),
        Case("process_batches", 2, Job.csv(24, "none"), pool=Pool.KEPT),
        Case.control(Job.payload(1 << 20, 64, "atomic")),
    ],
    ids=lambda case: case.id,
)
def test_a_case_is_read_back_from_its_saved_fields(case: Case) -> None:
    """What a run saves of a case (through JSON) makes the same case again, the verdict's and the gate's."""
    assert Case.from_info(json.loads(json.dumps(case.extra_info()))) == case


def test_runs_saved_before_kind_and_pool_are_read_alike() -> None:
    """Runs saved before ``kind`` and ``pool`` named the control and the kept pool as strategies."""
    old = {
        "workers": 2,
        "start": "warm",
        "job": "csv-none",
        "job_kind": "csv",
        "durability": "none",
        "files": 24,
    }
    assert Case.from_info({**old, "strategy": "control", "workers": 1}) == Case.control(Job.csv(24, "none"))
    warm_pool = Case("process_batches", 2, Job.csv(24, "none"), pool=Pool.KEPT)
    assert Case.from_info({**old, "strategy": "warm_pool"}) == warm_pool
    assert Case.from_info({**old, "strategy": "threads"}) == Case("threads", 2, Job.csv(24, "none"))


def test_single_value_options_reject_lists(my_workload: str) -> None:
    """--fileio-files, --fileio-rounds, --fileio-gate and --fileio-workload take one value: a list is an
    error naming the option and the value, not a silent pick of one of them."""
    for option, value in (("files", "5,6"), ("rounds", "3,4"), ("gate", "10,20")):
        with pytest.raises(OptionError) as raised:
            read_settings({option: value})
        assert str(raised.value) == f"--fileio-{option}: takes one value, got {value!r}"
    twice = f"{my_workload},{my_workload}"
    with pytest.raises(OptionError, match="^--fileio-workload: takes one value, got "):
        read_settings({"workload": twice})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": "0"}, "--fileio-workers: '0' is not a whole number >= 1"),
        ({"workers": "2,x"}, "--fileio-workers: 'x' is not a whole number >= 1"),
        ({"files": "-1"}, "--fileio-files: '-1' is not a whole number >= 1"),
        ({"rounds": "0"}, "--fileio-rounds: '0' is not a whole number >= 1"),
        ({"sizes": "12XB"}, "--fileio-sizes: bad size '12XB'"),
        ({"strategies": "rockets"}, "--fileio-strategies: unknown value 'rockets'; choose from sequential"),
        ({"profile": "huge"}, "--fileio-profile: unknown profile 'huge'; choose from quick, seed, full"),
        ({"durability": "none,sync"}, "--fileio-durability: unknown value 'sync'"),
        ({"gate": "0"}, "--fileio-gate: '0' is not a percentage > 0"),
        ({"dir": "/no/such/dir"}, "--fileio-dir: '/no/such/dir' is not an existing directory"),
    ],
)
def test_bad_values_name_the_option(options: dict[str, str], message: str) -> None:
    """A bad value is an OptionError naming the option and the value."""
    with pytest.raises(OptionError) as raised:
        read_settings(options)
    assert str(raised.value).startswith(message)
