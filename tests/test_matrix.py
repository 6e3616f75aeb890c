"""The benchmark matrix (bench/matrix.py), tested directly: profiles, options and the cases they make."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.matrix import BENCH_STRATEGIES, CONTROL, CONTROL_AGAIN, WARM, OptionError, read_settings
from fileio import STRATEGIES, CsvWorkload, PayloadWorkload

OTHERS = [name for name in BENCH_STRATEGIES if name != "sequential"]
SHORT_OTHERS = [name for name in OTHERS if name != "dask"]  # quick and seed leave dask out


def ids(**options: str) -> list[str]:
    return [case.id for case in read_settings(options).cases]


def test_quick_profile() -> None:
    """quick: each job opens with its control and sequential, then every other strategy but dask at 1, 2 and
    4 workers, and closes with its control again; a CSV job and a 256 KiB job into the page cache, and a
    durable job: 64 atomic files of 64 KiB."""
    settings = read_settings({})
    assert settings.profile == "quick" and settings.rounds == 5 and settings.gate is None
    per_job = 3 + len(SHORT_OTHERS) * 3
    cases = settings.cases
    assert len(cases) == 3 * per_job
    assert [case.id for case in cases[:2]] == ["control-w1-csv-none", "sequential-w1-csv-none"]
    assert cases[per_job - 1].id == "control_again-w1-csv-none"
    assert cases[per_job].id == "control-w1-256KiB-none"
    assert (
        cases[2 * per_job].id == "control-w1-64KiB-atomic" and cases[-1].id == "control_again-w1-64KiB-atomic"
    )
    assert cases[0].job.workload == CsvWorkload() and cases[0].job.files == 48
    assert cases[per_job].job.workload == PayloadWorkload(256 * 1024) and cases[per_job].job.files == 128
    assert cases[-1].job.workload == PayloadWorkload(64 * 1024) and cases[-1].job.files == 64
    assert [case.is_control for case in cases[:2]] == [True, False]


def test_sizes_or_durability_replace_the_profiles_jobs() -> None:
    """--fileio-sizes or --fileio-durability: the cross product alone, without the durable job."""
    assert {case.job.name for case in read_settings({"sizes": "4KiB"}).cases} == {"4KiB-none"}
    assert {case.job.name for case in read_settings({"durability": "fsync"}).cases} == {
        "csv-fsync",
        "256KiB-fsync",
    }


def test_your_own_workload_replaces_the_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--fileio-workload module:factory: one job per durability, 200 files a round, no control case (the
    control cannot make a stranger's bytes)."""
    (tmp_path / "my_workload.py").write_text(
        "class Documents:\n"
        "    def file_name(self, file_id):\n        return f'doc-{file_id}.txt'\n"
        "    def data(self, file_id):\n        return str(file_id).encode()\n"
        "def make():\n    return Documents()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    cases = read_settings({"workload": "my_workload:make", "durability": "none,atomic", "workers": "2"}).cases
    assert [case.id for case in cases][:2] == ["sequential-w1-Documents-none", "threads-w2-Documents-none"]
    assert {case.job.name for case in cases} == {"Documents-none", "Documents-atomic"}
    assert not any(case.is_control for case in cases) and {case.job.files for case in cases} == {200}
    with pytest.raises(OptionError, match="--fileio-workload: 'my_workload:absent': AttributeError"):
        read_settings({"workload": "my_workload:absent"})


def test_seed_profile() -> None:
    """seed: the classic job, 5,000 files, every strategy but dask at 8 workers, 3 rounds."""
    settings = read_settings({"profile": "seed"})
    assert settings.rounds == 3 and settings.cases[1].job.files == 5000
    assert [case.id for case in settings.cases] == [
        "control-w1-csv-none",
        "sequential-w1-csv-none",
        *[f"{name}-w8-csv-none" for name in SHORT_OTHERS],
        "control_again-w1-csv-none",
    ]


def test_full_profile_and_overrides() -> None:
    """full: 1..2 x CPUs workers, four payload sizes and CSV, three durabilities; options narrow it."""
    full = ids(profile="full")
    workers = 2 * (os.cpu_count() or 1)
    assert f"threads-w{workers}-16MiB-atomic" in full and "pipeline-w1-4KiB-fsync" in full
    assert "dask-w1-csv-none" in full
    assert len(full) == 5 * 3 * (3 + len(OTHERS) * workers)
    narrowed = ids(profile="full", strategies="processes", workers="3", sizes="1MiB", durability="fsync")
    assert narrowed == ["control-w1-1MiB-fsync", "processes-w3-1MiB-fsync", "control_again-w1-1MiB-fsync"]


def test_the_warm_pool_is_a_case_beside_the_strategies() -> None:
    """Every profile measures process_batches on a warm pool too: fileio's strategies, then warm_pool."""
    assert (*STRATEGIES, WARM) == BENCH_STRATEGIES
    assert ids(strategies="warm_pool", workers="2", sizes="csv") == [
        "control-w1-csv-none",
        "warm_pool-w2-csv-none",
        "control_again-w1-csv-none",
    ]


def test_dask_only_when_asked_in_the_short_profiles() -> None:
    """quick and seed leave dask out (a cluster start-up every round); --fileio-strategies brings it back."""
    assert not any(case.strategy == "dask" for case in read_settings({}).cases)
    assert not any(case.strategy == "dask" for case in read_settings({"profile": "seed"}).cases)
    assert ids(strategies="dask", workers="2", sizes="csv") == [
        "control-w1-csv-none",
        "dask-w2-csv-none",
        "control_again-w1-csv-none",
    ]


def test_files_rounds_dir_and_gate(tmp_path: Path) -> None:
    settings = read_settings({"files": "7", "rounds": "2", "dir": str(tmp_path), "gate": "15"})
    assert {case.job.files for case in settings.cases} == {7}
    assert settings.rounds == 2 and settings.directory == tmp_path and settings.gate == 15.0


def test_controls_carry_no_strategy_requirement() -> None:
    case = read_settings({}).cases[0]
    assert case.strategy == CONTROL and case.unavailable_reason is None
    assert case.extra_info() == {"strategy": CONTROL, "workers": 1, "job": "csv-none"}
    assert read_settings({}).cases[-1].strategy == CONTROL_AGAIN


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"workers": "0"}, "--fileio-workers: '0' is not a whole number >= 1"),
        ({"workers": "2,x"}, "--fileio-workers: 'x' is not a whole number >= 1"),
        ({"files": "-1"}, "--fileio-files: '-1' is not a whole number >= 1"),
        ({"sizes": "12XB"}, "--fileio-sizes: bad size '12XB'"),
        ({"strategies": "rockets"}, "--fileio-strategies: unknown value 'rockets'; choose from sequential"),
        ({"profile": "huge"}, "--fileio-profile: unknown profile 'huge'; choose from quick, seed, full"),
        ({"durability": "none,sync"}, "--fileio-durability: unknown value 'sync'"),
        ({"gate": "0"}, "--fileio-gate: '0' is not a percentage > 0"),
        ({"dir": "/no/such/dir"}, "--fileio-dir: '/no/such/dir' is not an existing directory"),
    ],
)
def test_bad_values_name_the_option(options: dict[str, str], message: str) -> None:
    with pytest.raises(OptionError) as raised:
        read_settings(options)
    assert str(raised.value).startswith(message)
