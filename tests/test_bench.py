"""The benchmark suite's contract: its matrix, its guard rails, its saved history, its verification."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--fileio-strategies", "sequential,threads", "--fileio-workers", "2"]
TINY += ["--fileio-files", "3", "--fileio-sizes", "csv"]


def run_bench(*args: str, storage: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``pytest bench/`` in a fresh process, saving history under ``storage``, outside this test's xdist."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "bench/", "-p", "no:cacheprovider",
         f"--benchmark-storage=file://{storage}", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**environment, **env},
    )  # fmt: skip


def collected(*args: str, storage: Path) -> list[str]:
    done = run_bench("--collect-only", "-q", *args, storage=storage)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line.split("[", 1)[1].rstrip("]") for line in done.stdout.splitlines() if "::test_save[" in line]


def test_quick_profile_matrix(tmp_path: Path) -> None:
    """quick: each job opens with its control and sequential, then every strategy at 1, 2 and 4 workers, and
    closes with its control again; a CSV and a 256 KiB job."""
    ids = collected(storage=tmp_path)
    assert len(ids) == 2 * (3 + 6 * 3)
    assert ids[:2] == ["control-w1-csv-none", "sequential-w1-csv-none"]
    assert ids[20:23] == ["control_again-w1-csv-none", "control-w1-256KiB-none", "sequential-w1-256KiB-none"]
    assert ids[-1] == "control_again-w1-256KiB-none"
    assert "processes-w4-csv-none" in ids and "asyncio-w2-256KiB-none" in ids


def test_seed_profile_matrix(tmp_path: Path) -> None:
    """seed: the classic job, every strategy at 8 workers."""
    ids = collected("--fileio-profile", "seed", storage=tmp_path)
    assert ids[:2] == ["control-w1-csv-none", "sequential-w1-csv-none"]
    assert ids[-1] == "control_again-w1-csv-none"
    assert sorted(ids[2:-1]) == sorted(
        f"{name}-w8-csv-none"
        for name in ("threads", "processes", "process_batches", "processes_threads", "asyncio", "pipeline")
    )


def test_full_profile_and_overrides(tmp_path: Path) -> None:
    """full spans 1..2 x CPUs workers, four payload sizes plus CSV, three durabilities; options narrow it."""
    ids = collected("--fileio-profile", "full", storage=tmp_path)
    workers = 2 * (os.cpu_count() or 1)
    assert f"threads-w{workers}-16MiB-atomic" in ids and "pipeline-w1-4KiB-fsync" in ids
    assert len(ids) == 5 * 3 * (3 + 6 * workers)
    narrowed = collected(
        "--fileio-profile", "full", "--fileio-strategies", "processes", "--fileio-workers", "3",
        "--fileio-sizes", "1MiB", "--fileio-durability", "fsync", storage=tmp_path,
    )  # fmt: skip
    assert narrowed == ["control-w1-1MiB-fsync", "processes-w3-1MiB-fsync", "control_again-w1-1MiB-fsync"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fileio-workers", "0"], "ERROR: --fileio-workers: '0' is not a whole number >= 1"),
        (["--fileio-sizes", "12XB"], "ERROR: --fileio-sizes: bad size '12XB'"),
        (["--fileio-strategies", "rockets"], "ERROR: --fileio-strategies: unknown value 'rockets'"),
        (["--fileio-profile", "huge"], "ERROR: --fileio-profile: unknown profile 'huge'"),
        (["--fileio-durability", "none,sync"], "ERROR: --fileio-durability: unknown value 'sync'"),
        (
            ["--fileio-dir", "/no/such/dir"],
            "ERROR: --fileio-dir: '/no/such/dir' is not an existing directory",
        ),
    ],
)
def test_bad_option_values_stop_the_run(args: list[str], message: str, tmp_path: Path) -> None:
    """A bad option value stops the run before any case, with one line naming the value."""
    done = run_bench(*args, storage=tmp_path)
    assert done.returncode == 4
    assert message in done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("ERROR")] == [done.stderr.strip()]


def test_histogram(tmp_path: Path) -> None:
    """--benchmark-histogram draws one SVG per job."""
    done = run_bench(
        *TINY, "--fileio-rounds", "2", f"--benchmark-histogram={tmp_path}/hist", storage=tmp_path
    )
    assert done.returncode == 0, done.stdout
    assert (tmp_path / "hist-csv-none.svg").read_text().startswith("<?xml")


def test_xdist_is_refused(tmp_path: Path) -> None:
    """Benchmarks under xdist would be silently disabled: the suite refuses to run instead."""
    done = run_bench("-n", "2", *TINY, storage=tmp_path)
    assert done.returncode != 0
    assert "must run serially" in done.stderr


def test_disabled_run_still_verifies(tmp_path: Path) -> None:
    """--benchmark-disable runs each case once, verified, and saves nothing."""
    done = run_bench("--benchmark-disable", *TINY, "--fileio-sizes", "csv,4KiB", storage=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "8 passed" in done.stdout
    assert not list(tmp_path.rglob("*.json"))


def test_run_saves_history_and_compares(tmp_path: Path) -> None:
    """A plain run saves raw rounds and fileio's fields; the next run compares with it out of the box."""
    storage = tmp_path / "history"
    first = run_bench(*TINY, "--fileio-rounds", "3", "--fileio-dir", str(tmp_path), storage=storage)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "fileio csv-none: 3 files" in first.stdout
    assert first.stdout.index("fileio csv-none") > first.stdout.index("benchmark 'csv-none'")
    assert "<- fastest" in first.stdout
    [saved] = storage.rglob("*.json")
    data = json.loads(saved.read_text())
    assert data["fileio"] == {"profile": "quick", "rounds": 3}
    machine = data["machine_info"]
    assert machine["cpu_count"] == os.cpu_count() and machine["memory_total"] > 0
    assert machine["filesystem"] not in ("", "unknown")
    assert not any(key.startswith("hz_actual") for key in machine["cpu"])
    cases = {bench["param"]: bench for bench in data["benchmarks"]}
    assert set(cases) == {
        "control-w1-csv-none",
        "sequential-w1-csv-none",
        "threads-w2-csv-none",
        "control_again-w1-csv-none",
    }
    threads = cases["threads-w2-csv-none"]
    assert len(threads["stats"]["data"]) == 3
    info = threads["extra_info"]
    median = threads["stats"]["median"]
    assert info["files"] == 3 and info["mb_per_s"] == pytest.approx(info["bytes"] / 1e6 / median)
    assert info["speedup"] == pytest.approx(cases["sequential-w1-csv-none"]["stats"]["median"] / median)

    second = run_bench(*TINY, "--fileio-rounds", "3", "--benchmark-compare", storage=storage)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Comparing against benchmarks from" in second.stdout + second.stderr
    assert "machine_info is different" not in second.stdout + second.stderr
    assert len(list(storage.rglob("*.json"))) == 2


def test_wrong_bytes_fail_the_case(tmp_path: Path) -> None:
    """A strategy that writes wrong bytes fails its case, however fast it is."""
    (tmp_path / "corrupting.py").write_text(
        "import fileio\n"
        "original = fileio.STRATEGIES['threads']\n"
        "def save(directory, ids, **options):\n"
        "    report = original(directory, ids, **options)\n"
        "    report.paths[0].write_bytes(b'corrupt')\n"
        "    return report\n"
        "fileio.STRATEGIES['threads'] = save\n"
    )
    done = run_bench(
        "-p", "corrupting", "--benchmark-disable", *TINY, storage=tmp_path, PYTHONPATH=str(tmp_path)
    )
    assert done.returncode == 1
    assert "1 failed, 3 passed" in done.stdout
    assert "wrong bytes: data-0000.csv: 7 bytes" in done.stdout


def test_gate_option_compares_with_the_previous_run(tmp_path: Path) -> None:
    """--fileio-gate compares with the newest earlier run: a strategy made 3x slower fails the session."""
    storage = tmp_path / "history"
    args = [*TINY, "--fileio-files", "20", "--fileio-rounds", "5"]
    first = run_bench(*args, "--fileio-gate", storage=storage)
    assert first.returncode == 0, first.stdout
    assert "fileio gate: no earlier quick run saved on this machine to compare with" in first.stdout
    slowed = run_bench(
        "-p", "slowdown_plugin", *args, "--fileio-gate=10", storage=storage,
        PYTHONPATH=str(ROOT / "tests"), FILEIO_SLOWDOWN="threads:2.0",
    )  # fmt: skip
    assert slowed.returncode == 1, slowed.stdout
    assert "fileio gate against 0001_" in slowed.stdout
    assert "cases regressed by more than 10% (significant at 95%): threads-w2-csv-none" in slowed.stdout
