"""The benchmark suite's contract: its matrix, its guard rails, its saved history, its verification."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fileio
from bench import REQUIRED_API

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


def test_collected_ids_read_like_a_sentence(tmp_path: Path) -> None:
    """pytest collects one test_save per case of the matrix, with the case's id."""
    done = run_bench("--collect-only", "-q", "--fileio-strategies", "threads", "--fileio-workers", "2",
                     storage=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line.split("[", 1)[1].rstrip("]") for line in done.stdout.splitlines() if "::test_save[" in line]
    assert ids == [
        f"{case}-{job}"
        for job in ("csv-none", "256KiB-none", "64KiB-atomic")
        for case in ("control-w1", "threads-w2", "control_again-w1")
    ]


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
        (["--fileio-gate=-3"], "ERROR: --fileio-gate: '-3' is not a percentage > 0"),
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


def test_the_warm_pool_case_is_measured_and_explained(tmp_path: Path) -> None:
    """warm_pool runs as a verified case like any strategy, and its table says start-up is not in its time."""
    done = run_bench(
        "--fileio-strategies", "sequential,warm_pool", "--fileio-workers", "2", "--fileio-files", "8",
        "--fileio-sizes", "csv", "--fileio-rounds", "2", storage=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
    assert re.search(r"\nwarm_pool +2 +\d", done.stdout)
    assert "(warm_pool: process_batches on a fileio.WarmPool started before the clock;" in done.stdout


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
    assert "fileio csv-none: 3 files, 0.7 MB a round, median of 3; ceiling measured now" in first.stdout
    [saved] = storage.rglob("*.json")
    data = json.loads(saved.read_text())
    assert data["fileio"]["profile"] == "quick" and data["fileio"]["rounds"] == 3
    assert data["fileio"]["api"] == fileio.API_VERSION and data["fileio"]["source"] == str(ROOT / "fileio")
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
    assert (info["strategy"], info["workers"], info["job"]) == ("threads", 2, "csv-none")
    median = threads["stats"]["median"]
    assert info["files"] == 3 and info["mb_per_s"] == pytest.approx(info["bytes"] / 1e6 / median)
    assert info["speedup"] == pytest.approx(cases["sequential-w1-csv-none"]["stats"]["median"] / median)
    assert info["ceiling_s"] > 0 and info["efficiency"] == pytest.approx(info["ceiling_s"] / median)
    assert info["peak_rss_mb"] >= 0
    ceiling = data["fileio"]["ceiling"][machine["filesystem"]]["csv-none"]
    assert ceiling["ceiling"]["files"] == 3 and set(ceiling["ceiling"]["raw_seconds"]) == {"1", "2"}
    [verdict] = data["fileio"]["verdict"]
    assert verdict["job"] == "csv-none" and verdict["fastest"] in ("sequential", "threads w2")
    assert (
        f"csv-none: use {verdict['fastest']}" in first.stdout
        and "Recommendation on this machine:" in first.stdout
    )

    second = run_bench(*TINY, "--fileio-rounds", "3", "--benchmark-compare", storage=storage)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Comparing against benchmarks from" in second.stdout + second.stderr
    assert "machine_info is different" not in second.stdout + second.stderr
    assert "median of 3; ceiling reused from run 0001, measured " in second.stdout
    assert len(list(storage.rglob("*.json"))) == 2
    heading = next(line for line in second.stdout.splitlines() if line.startswith("strategy "))
    assert heading.split()[-3:] == ["prev", "x", "change"]
    row = next(line for line in second.stdout.splitlines() if line.startswith("threads "))
    assert f"{median:.4f}" in row and re.search(r" [+-]\d+%", row), row


def test_plot_of_a_real_run(tmp_path: Path) -> None:
    """--fileio-plot draws the run: one panel per job; `fileio plot` draws the saved run the same way."""
    storage, picture = tmp_path / "history", tmp_path / "scaling.png"
    args = [*TINY, "--fileio-sizes", "csv,4KiB", "--fileio-workers", "1,2", "--fileio-rounds", "2"]
    done = run_bench(*args, f"--fileio-plot={picture}", storage=storage)
    assert done.returncode == 0, done.stdout
    assert f"wrote {picture}: 2 panel(s): csv-none, 4KiB-none" in done.stdout
    assert picture.read_bytes().startswith(b"\x89PNG")
    [saved] = storage.rglob("*.json")
    from fileio.plot import figure, read_run

    fig = figure(read_run(saved))
    assert [axes.get_title() for axes in fig.axes] == ["csv-none", "4KiB-none"]
    lines = {line.get_label() for line in fig.axes[0].get_lines()}
    assert {"threads", "ideal", "ceiling", "sequential"} <= lines
    svg = tmp_path / "scaling.svg"
    cli = subprocess.run(
        [sys.executable, "-m", "fileio", "plot", str(saved), "-o", str(svg)], capture_output=True, text=True
    )
    assert cli.returncode == 0 and svg.read_text().lstrip().startswith("<?xml"), cli.stderr


def test_wrong_bytes_fail_the_case(tmp_path: Path) -> None:
    """A strategy that writes wrong bytes fails its case, however fast it is."""
    (tmp_path / "corrupting.py").write_text(
        "import dataclasses, fileio\n"
        "original = fileio.STRATEGIES['threads']\n"
        "def corrupt(job, ids, workers, on_saved):\n"
        "    original.body(job, ids, workers, on_saved)\n"
        "    job.path(ids[0]).write_bytes(b'corrupt')\n"
        "fileio.STRATEGIES['threads'] = dataclasses.replace(original, body=corrupt)\n"
    )
    done = run_bench(
        "-p", "corrupting", "--benchmark-disable", *TINY, storage=tmp_path, PYTHONPATH=str(tmp_path)
    )
    assert done.returncode == 1
    assert "1 failed, 3 passed" in done.stdout
    assert "wrong bytes: data-0000.csv: 7 bytes" in done.stdout


def test_gate_option_compares_with_the_previous_run(tmp_path: Path) -> None:
    """--fileio-gate compares with the newest earlier run: a strategy made 5x slower fails the session,
    and only that one: with two cases in the job, the controls' drift is the gate's only measure of noise."""
    storage = tmp_path / "history"
    args = [*TINY, "--fileio-files", "20", "--fileio-rounds", "5"]
    first = run_bench(*args, "--fileio-gate", storage=storage)
    assert first.returncode == 0, first.stdout
    assert "fileio gate: no earlier quick run of the same 4 cases saved on this machine" in first.stdout
    slowed = run_bench(
        "-p", "slowdown_plugin", *args, "--fileio-gate=10", storage=storage,
        PYTHONPATH=str(ROOT / "tests"), FILEIO_SLOWDOWN="threads:4.0",
    )  # fmt: skip
    assert slowed.returncode == 1, slowed.stdout
    assert "fileio gate against 0001_" in slowed.stdout
    assert "cases regressed by more than 10% (significant at 95%): threads-w2-csv-none" in slowed.stdout


def test_an_older_fileio_is_refused_with_one_line(tmp_path: Path) -> None:
    """A fileio older than the API the suite needs stops the run with one line saying so."""
    (tmp_path / "older_fileio.py").write_text("import fileio\nfileio.API_VERSION = 0\n")
    done = run_bench("-p", "older_fileio", *TINY, storage=tmp_path, PYTHONPATH=str(tmp_path))
    assert done.returncode == 4
    assert f"ERROR: this benchmark suite needs fileio API {REQUIRED_API}; fileio at " in done.stderr
    assert "has API 0" in done.stderr


def test_a_fileio_without_the_probe_is_measured_without_ceilings(tmp_path: Path) -> None:
    """fileio API 1 has no probe: the suite still measures it, with no ceiling and no efficiency column."""
    (tmp_path / "api_one.py").write_text("import fileio\nfileio.API_VERSION = 1\n")
    storage = tmp_path / "history"
    done = run_bench(
        "-p", "api_one", *TINY, "--fileio-rounds", "1", storage=storage, PYTHONPATH=str(tmp_path)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fileio csv-none: 3 files, 0.7 MB a round, median of 1\n" in done.stdout
    assert "peak MB" in done.stdout and "efficiency" not in done.stdout
    [saved] = storage.rglob("*.json")
    data = json.loads(saved.read_text())
    assert "ceiling" not in data["fileio"]
    assert all("ceiling_s" not in bench["extra_info"] for bench in data["benchmarks"])


# Measured here (4 MiB files, PSS): each worker process holds about 16.5 MB of its own beyond the data, the
# interpreter pages it copies from the fork server as it runs; with that, every case of the classic strategies
# stayed within (2 x workers + 2) files. The bound allows 20 MB a worker process and 8 MB for run-to-run
# variation (copy-on-write timing, when the samples fall).
PER_WORKER_PROCESS_MB = 20
FIXED_MB = 8
CLASSIC = "sequential,threads,processes,process_batches,processes_threads,asyncio,pipeline"


def test_memory_stays_within_two_files_per_worker(tmp_path: Path) -> None:
    """Each case's peak memory, the caller and its worker processes together, stays within (2 x workers + 2)
    files of 4 MiB plus what its worker processes' interpreters take; holding all 24 files would not."""
    storage = tmp_path / "history"
    done = run_bench(
        "--fileio-sizes", "4MiB", "--fileio-files", "24", "--fileio-workers", "1,2", "--fileio-rounds", "1",
        "--fileio-strategies", CLASSIC, "--fileio-dir", str(tmp_path), storage=storage,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    [saved] = storage.rglob("*.json")
    cases = json.loads(saved.read_text())["benchmarks"]
    assert len(cases) == 2 + 1 + 2 * (len(CLASSIC.split(",")) - 1)
    all_files_mb = 24 * 4 * 2**20 / 1e6
    for case in cases:
        info = case["extra_info"]
        strategy = fileio.STRATEGIES.get(info["strategy"])  # None for the controls
        processes = info["workers"] if strategy is not None and strategy.starts_processes else 0
        bound = (2 * info["workers"] + 2) * 4 * 2**20 / 1e6 + processes * PER_WORKER_PROCESS_MB + FIXED_MB
        assert bound < all_files_mb
        assert 0 <= info["peak_rss_mb"] <= bound, (
            f"{case['param']}: {info['peak_rss_mb']:.1f} MB > {bound:.1f}"
        )


def test_gate_without_a_matching_run_leaves_the_exit_code_alone(tmp_path: Path) -> None:
    """--fileio-gate after a run of other cases: says there is nothing to compare, and the run passes."""
    storage = tmp_path / "history"
    assert run_bench(*TINY, "--fileio-rounds", "2", storage=storage).returncode == 0
    other = run_bench(
        *TINY, "--fileio-workers", "1", "--fileio-rounds", "2", "--fileio-gate", storage=storage
    )
    assert other.returncode == 0, other.stdout
    assert "no earlier quick run of the same 4 cases" in other.stdout
