"""pytest's hooks for the benchmark suite: each hands off to ``matrix``, ``tables`` or ``gate_plugin``.

Every run is saved with its raw rounds in ``.benchmarks/``, so ``pytest bench/ --benchmark-compare`` compares
with the previous run and ``--fileio-gate`` gates against it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.utils import get_tag

import fileio
from bench import REQUIRED_API, has_api
from bench.ceiling import Ceilings, available, machine
from bench.gate_plugin import GatePlugin
from bench.matrix import DEFAULT_GATE_THRESHOLD, PROFILES, OptionError, Settings, read_settings
from bench.tables import Result, job_table
from bench.verdict import JobVerdict, as_json, report, verdicts

OPTIONS = {
    "profile": f"one of {', '.join(PROFILES)} (default quick)",
    "files": "files per round for every job",
    "workers": "pool sizes, e.g. 1,2,4",
    "strategies": "strategy names, e.g. sequential,processes",
    "sizes": "jobs: csv and/or payload sizes, e.g. csv,4KiB,1MiB",
    "durability": "durabilities, e.g. none,fsync,atomic",
    "rounds": "timed rounds per case (after one warm-up round)",
    "dir": "benchmark on this directory's filesystem instead of a temp dir",
    "workload": "your own workload instead of the profile's jobs, made by module:factory() (fileio API 2)",
}
SETTINGS = pytest.StashKey[Settings]()
CEILINGS = pytest.StashKey[Ceilings]()
RESULTS = pytest.StashKey[dict[str, list[Result]]]()  # job name -> results, in the order measured
VERDICTS = pytest.StashKey[list[JobVerdict]]()
PLOTTED = pytest.StashKey[str]()


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
    group.addoption("--fileio-plot", metavar="PATH", help="draw the run's scaling chart here (PNG, or .svg)")
    group.addoption(
        "--fileio-reprobe",
        action="store_true",
        help="measure each job's ceiling anew instead of reusing one saved by an earlier run on this machine",
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
    # pytest-benchmark's own table, unless asked otherwise: a case's rows side by side (sorted by name), few
    # columns; fileio's tables after it say the rest.
    if config.option.benchmark_sort == "min":  # pytest-benchmark's default
        config.option.benchmark_sort = "name"
    if not config.option.benchmark_columns:
        config.option.benchmark_columns = ["median", "iqr", "min", "max", "rounds"]


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


@pytest.fixture(scope="session")
def ceilings(request: pytest.FixtureRequest, settings: Settings, target_root: Path) -> Ceilings | None:
    """Each job's ceiling on the target's filesystem; None when fileio has no probe or timing is off."""
    config = request.config
    if not available() or config.option.benchmark_disable:
        return None
    history = []
    if not config.getoption("fileio_reprobe"):
        storage = config._benchmarksession.storage  # type: ignore[attr-defined]  # noqa: SLF001
        history = [Path(path) for path in storage.query()]
    workers = tuple(sorted({case.workers for case in settings.cases}))
    config.stash[CEILINGS] = Ceilings(target_root, filesystem_type(target_root), workers, history)
    return config.stash[CEILINGS]


@pytest.fixture(scope="session")
def worker_machinery(target_root: Path) -> None:
    """Start the fork server process strategies fork their workers from, once, before any case: it lives as
    long as the run, so it is no one case's memory (else it would fall to the first case that starts one)."""
    directory = tempfile.mkdtemp(dir=target_root)
    fileio.STRATEGIES["process_batches"](directory, range(1), workers=1, workload=fileio.PayloadWorkload(1))
    shutil.rmtree(directory)


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
    machine_info.update(machine())  # node, cpu_count, memory_total: a saved ceiling is reused on the same
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
    if CEILINGS in config.stash:
        output_json["fileio"]["ceiling"] = config.stash[CEILINGS].to_json()
    config.stash[VERDICTS] = verdicts(output_json)
    output_json["fileio"]["verdict"] = as_json(config.stash[VERDICTS])
    if config.getoption("fileio_plot"):
        if has_api(2):
            config.stash[PLOTTED] = fileio.plot_run(output_json, config.getoption("fileio_plot"))
        else:
            config.stash[PLOTTED] = f"no plot: the fileio measured has API {fileio.API_VERSION}, plot needs 2"


def _previous(config: pytest.Config) -> dict[str, dict[str, Any]]:
    """With --benchmark-compare, the compared run's cases by id (its newest run, if several were loaded)."""
    mapping = getattr(config._benchmarksession, "compared_mapping", None) or {}  # type: ignore[attr-defined]
    runs = list(mapping.values())
    return {bench["param"]: bench for bench in runs[-1].values()} if runs else {}


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """After pytest-benchmark's table: one table per job, the fastest marked, then the verdict."""
    settings = config.stash[SETTINGS]
    origins = config.stash[CEILINGS].origins if CEILINGS in config.stash else {}
    previous = _previous(config)
    for job_name, results in config.stash[RESULTS].items():
        terminalreporter.write_line("")
        for line, heading in job_table(job_name, results, settings.rounds, origins.get(job_name), previous):
            terminalreporter.write_line(line, bold=heading)
    if VERDICTS in config.stash:
        terminalreporter.write_line("")
        for number, line in enumerate(report(config.stash[VERDICTS])):
            terminalreporter.write_line(line, bold=number == 0)
    if PLOTTED in config.stash:
        terminalreporter.write_line(config.stash[PLOTTED])
