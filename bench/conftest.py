"""pytest's hooks for the benchmark suite: each hands off to ``matrix``, ``tables`` or ``gate_plugin``.

Every run is saved with its raw rounds in ``.benchmarks/``, so ``pytest bench/ --benchmark-compare`` compares
with the previous run and ``--fileio-gate`` gates against it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.utils import get_tag

import fileio
from bench import REQUIRED_API
from bench.gate_plugin import GatePlugin
from bench.matrix import CPUS, DEFAULT_GATE_THRESHOLD, PROFILES, OptionError, Settings, read_settings
from bench.tables import Result, job_table

OPTIONS = {
    "profile": f"one of {', '.join(PROFILES)} (default quick)",
    "files": "files per round for every job",
    "workers": "pool sizes, e.g. 1,2,4",
    "strategies": "strategy names, e.g. sequential,processes",
    "sizes": "jobs: csv and/or payload sizes, e.g. csv,4KiB,1MiB",
    "durability": "durabilities, e.g. none,fsync,atomic",
    "rounds": "timed rounds per case (after one warm-up round)",
    "dir": "benchmark on this directory's filesystem instead of a temp dir",
}
SETTINGS = pytest.StashKey[Settings]()
RESULTS = pytest.StashKey[dict[str, list[Result]]]()  # job name -> results, in the order measured


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fileio", "fileio benchmark matrix")
    for name, help_text in OPTIONS.items():
        group.addoption(f"--fileio-{name}", help=help_text)
    group.addoption(
        "--fileio-gate",
        nargs="?",
        const=str(DEFAULT_GATE_THRESHOLD),
        metavar="PCT",
        help=f"fail on a significant slowdown over PCT% (default {DEFAULT_GATE_THRESHOLD:g}) vs the last run",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("numprocesses", None):
        raise pytest.UsageError(
            "fileio benchmarks must run serially: run `pytest bench/` without -n "
            "(pytest-xdist would silently disable every timing)"
        )
    api = getattr(fileio, "API_VERSION", 0)
    if api < REQUIRED_API:
        raise pytest.UsageError(
            f"this benchmark suite needs fileio API {REQUIRED_API}; fileio at {fileio.__file__} has API {api}"
        )
    try:
        settings = read_settings({name: config.getoption(f"fileio_{name}") for name in [*OPTIONS, "gate"]})
    except OptionError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[SETTINGS] = settings
    config.stash[RESULTS] = {}
    if settings.gate is not None:
        config.pluginmanager.register(GatePlugin(settings.gate), "fileio-gate")
    # History without extra flags: every run is saved with its raw rounds, ready for --benchmark-compare.
    config.option.benchmark_autosave = config.option.benchmark_autosave or get_tag()
    config.option.benchmark_save_data = True


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        params = []
        for case in metafunc.config.stash[SETTINGS].cases:
            reason = case.unavailable_reason
            params.append(
                pytest.param(case, id=case.id, marks=[pytest.mark.skip(reason=reason)] if reason else [])
            )
        metafunc.parametrize("case", params)


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Settings:
    return request.config.stash[SETTINGS]


@pytest.fixture(scope="session")
def results(request: pytest.FixtureRequest) -> dict[str, list[Result]]:
    return request.config.stash[RESULTS]


@pytest.fixture(scope="session")
def target_root(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each round's fresh directory is made: ``--fileio-dir`` or a temporary directory."""
    return settings.directory or tmp_path_factory.mktemp("fileio-bench")


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path``, from the longest matching mount point."""
    path = path.resolve()
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in mounts:
        _, mount_point, fs_type, *_ = line.split()
        if path.is_relative_to(mount_point) and len(mount_point) > len(best):
            best, kind = mount_point, fs_type
    return kind


def pytest_report_header(config: pytest.Config) -> str:
    return f"fileio API {fileio.API_VERSION} from {Path(fileio.__file__).parent}"


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Record what decides file-saving speed; drop fields that drift on one host (CPU frequency)."""
    for key in [key for key in machine_info.get("cpu", {}) if key.startswith("hz_actual")]:
        del machine_info["cpu"][key]
    machine_info["cpu_count"] = CPUS
    machine_info["memory_total"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    # Without --fileio-dir, rounds are written under pytest's temporary directory, in the system's temp dir.
    machine_info["filesystem"] = filesystem_type(
        config.stash[SETTINGS].directory or Path(tempfile.gettempdir())
    )


def pytest_benchmark_update_json(config: pytest.Config, output_json: dict[str, Any]) -> None:
    settings = config.stash[SETTINGS]
    output_json["fileio"] = {
        "profile": settings.profile,
        "rounds": settings.rounds,
        "api": fileio.API_VERSION,
        "source": str(Path(fileio.__file__).parent),
    }


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """After pytest-benchmark's table: one table per job, the fastest marked."""
    settings = config.stash[SETTINGS]
    for job_name, results in config.stash[RESULTS].items():
        terminalreporter.write_line("")
        for line, heading in job_table(job_name, results, settings.rounds):
            terminalreporter.write_line(line, bold=heading)
