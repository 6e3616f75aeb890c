"""The benchmark matrix (bench/matrix.py), tested directly: profiles, options and the cases they make."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.matrix import CONTROL, CONTROL_AGAIN, OptionError, read_settings
from fileio import STRATEGIES, CsvWorkload, PayloadWorkload

OTHERS = [name for name in STRATEGIES if name != "sequential"]


def ids(**options: str) -> list[str]:
    return [case.id for case in read_settings(options).cases]


def test_quick_profile() -> None:
    """quick: each job opens with its control and sequential, then every other strategy at 1, 2 and 4
    workers, and closes with its control again; a CSV job and a 256 KiB job, durability none."""
    settings = read_settings({})
    assert settings.profile == "quick" and settings.rounds == 5 and settings.gate is None
    per_job = 3 + len(OTHERS) * 3
    cases = settings.cases
    assert len(cases) == 2 * per_job
    assert [case.id for case in cases[:2]] == ["control-w1-csv-none", "sequential-w1-csv-none"]
    assert cases[per_job - 1].id == "control_again-w1-csv-none"
    assert cases[per_job].id == "control-w1-256KiB-none" and cases[-1].id == "control_again-w1-256KiB-none"
    assert {case.job.durability for case in cases} == {"none"}
    assert cases[0].job.workload == CsvWorkload() and cases[0].job.files == 48
    assert cases[-1].job.workload == PayloadWorkload(256 * 1024) and cases[-1].job.files == 256
    assert [case.is_control for case in cases[:2]] == [True, False]


def test_seed_profile() -> None:
    """seed: the classic job, 5,000 files, every strategy at 8 workers, 3 rounds."""
    settings = read_settings({"profile": "seed"})
    assert settings.rounds == 3 and settings.cases[1].job.files == 5000
    assert [case.id for case in settings.cases] == [
        "control-w1-csv-none",
        "sequential-w1-csv-none",
        *[f"{name}-w8-csv-none" for name in OTHERS],
        "control_again-w1-csv-none",
    ]


def test_full_profile_and_overrides() -> None:
    """full: 1..2 x CPUs workers, four payload sizes and CSV, three durabilities; options narrow it."""
    full = ids(profile="full")
    workers = 2 * (os.cpu_count() or 1)
    assert f"threads-w{workers}-16MiB-atomic" in full and "pipeline-w1-4KiB-fsync" in full
    assert len(full) == 5 * 3 * (3 + len(OTHERS) * workers)
    narrowed = ids(profile="full", strategies="processes", workers="3", sizes="1MiB", durability="fsync")
    assert narrowed == ["control-w1-1MiB-fsync", "processes-w3-1MiB-fsync", "control_again-w1-1MiB-fsync"]


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
