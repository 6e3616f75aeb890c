"""pytest's hooks for the benchmark suite: each hands off to ``matrix``, ``tables`` or ``gate_plugin``.

Every run is saved with its raw rounds in ``.benchmarks/``, so ``pytest bench/ --benchmark-compare`` compares
with the previous run and ``--fileio-gate`` gates against it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.utils import get_tag

import fileio
from bench import REQUIRED_API, pythons
from bench.adapter import compared_run, saved_runs
from bench.gate_plugin import GatePlugin
from bench.matrix import CPUS, DEFAULT_GATE_THRESHOLD, PROFILES, OptionError, Settings, read_settings
from bench.sweep import Side
from bench.tables import Result, job_table
from bench.test_save import CURRENT, MEASURED, Measurements, measurements  # noqa: F401  # test_save's fixture
from bench.verdict import JobVerdict, as_json, report, verdicts

OPTIONS = {
    "profile": f"one of {', '.join(PROFILES)} (default quick)",
    "files": "files per round for every job",
    "workers": "pool sizes, e.g. 1,2,4",
    "strategies": "strategy names, e.g. sequential,processes",
    "sizes": "jobs: csv and/or payload sizes, e.g. csv,4KiB,1MiB",
    "durability": "durabilities, e.g. none,fsync,atomic",
    "rounds": "sweeps, exactly (default: at least the profile's, more while the intervals are wide)",
    "dir": "benchmark on this directory's filesystem instead of a temp dir",
    "workload": "your own workload instead of the profile's jobs, made by module:factory() (fileio API 2)",
    "baseline": "also measure the fileio of this checkout (a parent commit's) in the same sweeps; with "
    "--fileio-gate, gate against it",
    "baseline-json": "with --fileio-baseline: save its side of the run here, for python -m bench.gate",
}
SETTINGS = pytest.StashKey[Settings]()
SIDES = pytest.StashKey[list[Side]]()
SESSION = pytest.StashKey[str]()
RESULTS = pytest.StashKey[dict[str, list[Result]]]()  # job name -> results, in the order measured
VERDICTS = pytest.StashKey[list[JobVerdict]]()
PLOTTED = pytest.StashKey[str]()
PYTHON_RUNS = pytest.StashKey[dict[str, dict[str, Any]]]()  # with --fileio-python: each side's run


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
        "--fileio-python",
        action="append",
        default=[],
        metavar="PATH",
        help="also measure on this interpreter (with fileio's dependencies installed for it), in the same "
        "sweeps; repeatable",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("numprocesses", None):
        raise pytest.UsageError(
            "fileio benchmarks must run serially: run `pytest bench/` without -n "
            "(pytest-xdist would silently disable every timing)"
        )
    if config.getoption("fileio_plot") and importlib.util.find_spec("matplotlib") is None:
        raise pytest.UsageError("--fileio-plot needs matplotlib: pip install 'fileio[plot]'")
    api = getattr(fileio, "API_VERSION", 0)
    if api < REQUIRED_API:
        raise pytest.UsageError(
            f"this benchmark suite needs fileio API {REQUIRED_API}; fileio at {fileio.__file__} has API {api}"
        )
    try:
        given = {name: config.getoption(f"fileio_{name.replace('-', '_')}") for name in [*OPTIONS, "gate"]}
        given["python"] = ",".join(config.getoption("fileio_python")) or None
        settings = read_settings(given)
    except OptionError as error:
        raise pytest.UsageError(str(error)) from None
    _check_sides(config, settings)
    config.stash[SETTINGS] = settings
    config.stash[SESSION] = uuid.uuid4().hex
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


def _check_sides(config: pytest.Config, settings: Settings) -> None:
    """UsageError where the options that add sides (a baseline, other Pythons) do not go together."""
    if config.getoption("fileio_baseline_json") and not config.getoption("fileio_baseline"):
        raise pytest.UsageError("--fileio-baseline-json needs --fileio-baseline (the side it saves)")
    if config.getoption("fileio_baseline") and not (
        config.getoption("fileio_baseline_json") or settings.gate is not None
    ):
        raise pytest.UsageError(
            "--fileio-baseline needs --fileio-gate (gate against it now) "
            "or --fileio-baseline-json (save its side)"
        )
    pythons = config.getoption("fileio_python")
    if pythons and (config.getoption("fileio_baseline") or settings.gate is not None):
        raise pytest.UsageError(
            "--fileio-python compares Pythons: not with --fileio-baseline or --fileio-gate"
        )
    for python in pythons:
        if not (os.path.isfile(python) and os.access(python, os.X_OK)):
            raise pytest.UsageError(f"--fileio-python {python}: not an executable file")


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
def sides(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Side]]:
    """The runner processes: this checkout's fileio, and with --fileio-baseline the one compared with it."""
    config = request.config
    # fileio's figures (what auto learned, what runs here) start empty in every run and on every side, so that
    # neither a user's history nor an earlier run steers this one, nor this run the user's.
    caches = tmp_path_factory.mktemp("fileio-cache")
    code = Path(fileio.__file__).resolve().parent.parent
    started = [Side(CURRENT, code, caches / CURRENT)]
    try:
        if config.getoption("fileio_baseline"):
            baseline = Path(config.getoption("fileio_baseline")).resolve()
            started.append(Side("baseline", baseline, caches / "baseline"))
        for number, python in enumerate(config.getoption("fileio_python"), 1):
            started.append(Side(f"python-{number}", code, caches / f"python-{number}", python))
        config.stash[SIDES] = started
        yield started
    finally:
        for side in started:
            side.close()


@pytest.fixture(scope="session")
def ceiling_runner(request: pytest.FixtureRequest, sides: list[Side]) -> Iterator[Side | None]:
    """A runner of this checkout's fileio, apart from the sides, that measures each job's ceiling (none where
    nothing is timed)."""
    if request.config.option.benchmark_disable:
        yield None
        return
    current = sides[0]
    runner = Side("ceiling", current.code, Path(current.environment["FILEIO_CACHE_DIR"]).parent / "ceiling")
    try:
        yield runner
    finally:
        runner.close()


# statfs(2)'s f_type of the filesystems a run is likely to meet (linux/magic.h).
FILESYSTEMS = {
    0xEF53: "ext4",  # ext2, ext3 and ext4 share it
    0x01021994: "tmpfs",
    0x58465342: "xfs",
    0x9123683E: "btrfs",
    0x794C7630: "overlay",
    0x2FC12FC1: "zfs",
    0xF2F52010: "f2fs",
    0x6969: "nfs",
    0xFF534D42: "cifs",
    0x65735546: "fuse",
    0x858458F6: "ramfs",
}


def filesystem_type(path: Path) -> str:
    """The type of the filesystem holding ``path``, from statfs(2) on the path itself: right inside a chroot
    or a container too, where /proc/mounts names paths of another root. ``unknown`` where it cannot tell."""
    import ctypes

    buffer = ctypes.create_string_buffer(256)  # struct statfs, whose first field is f_type
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.statfs(os.fsencode(path), buffer) != 0:
            return "unknown"
    except (OSError, AttributeError):
        return "unknown"
    magic = ctypes.c_long.from_buffer(buffer).value & 0xFFFFFFFF
    return FILESYSTEMS.get(magic, f"0x{magic:x}")


def pytest_report_header(config: pytest.Config) -> str:
    return f"fileio API {fileio.API_VERSION} from {Path(fileio.__file__).parent}"


def machine() -> dict[str, object]:
    """What identifies this machine in a saved run's ``machine_info``."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    import sysconfig

    return {
        "node": platform.node(),
        "cpu_count": CPUS,
        "memory_total": memory,
        # A free-threaded build (Py_GIL_DISABLED), and whether this run had the GIL enabled all the same.
        "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
    }


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    """Record what decides file-saving speed; drop fields that drift on one host (CPU frequency)."""
    for key in [key for key in machine_info.get("cpu", {}) if key.startswith("hz_actual")]:
        del machine_info["cpu"][key]
    machine_info.update(machine())
    # Without --fileio-dir, rounds are written under pytest's temporary directory, in the system's temp dir.
    machine_info["filesystem"] = filesystem_type(
        config.stash[SETTINGS].directory or Path(tempfile.gettempdir())
    )


def last_saved_run(config: pytest.Config, output_json: dict[str, Any]) -> dict[str, Any] | None:
    """The newest run saved here before this one, of the same profile on the same filesystem; None if none."""
    profile, filesystem = (
        output_json["fileio"]["profile"],
        output_json.get("machine_info", {}).get("filesystem"),
    )
    for path in reversed(saved_runs(config)):
        try:
            run = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (run.get("fileio", {}).get("profile"), run.get("machine_info", {}).get("filesystem")) == (
            profile,
            filesystem,
        ):
            return dict(run)
    return None


def pytest_benchmark_update_json(config: pytest.Config, output_json: dict[str, Any]) -> None:
    settings = config.stash[SETTINGS]
    output_json["fileio"] = {
        "profile": settings.profile,
        "rounds": settings.rounds,
        "api": fileio.API_VERSION,
        "source": str(Path(fileio.__file__).parent),
        "session": config.stash[SESSION],  # shared with --fileio-baseline-json: the same sweeps
    }
    config.stash[VERDICTS] = verdicts(output_json, last_saved_run(config, output_json))
    output_json["fileio"]["verdict"] = as_json(config.stash[VERDICTS])
    if config.getoption("fileio_baseline") and SIDES in config.stash:
        run = side_run(output_json, config.stash[MEASURED], config.stash[SIDES][1])
        if config.getoption("fileio_baseline_json"):
            Path(config.getoption("fileio_baseline_json")).write_text(json.dumps(run, default=repr))
        if (gate := config.pluginmanager.get_plugin("fileio-gate")) is not None:
            gate.baseline_run = run
    if config.getoption("fileio_python") and SIDES in config.stash:
        runs = {
            side.name: side_run(output_json, config.stash[MEASURED], side) for side in config.stash[SIDES]
        }
        config.stash[PYTHON_RUNS] = runs
        labels = python_labels(config.stash[SIDES])
        output_json["fileio"]["pythons"] = {
            "sides": [{"label": labels[side.name], **side.about["python"]} for side in config.stash[SIDES]],
            "verdicts": {labels[name]: run["fileio"]["verdict"] for name, run in runs.items()},
            "which": pythons.as_json(pythons.compare({labels[name]: run for name, run in runs.items()})),
            # Each other Python's raw rounds, in sweep order, by case (this Python's are the run's own).
            "rounds": {
                labels[name]: {bench["param"]: bench["stats"]["data"] for bench in run["benchmarks"]}
                for name, run in runs.items()
                if name != CURRENT
            },
        }
    if config.getoption("fileio_plot"):
        from fileio.plot import plot_run

        config.stash[PLOTTED] = plot_run(output_json, config.getoption("fileio_plot"))


def side_run(output_json: dict[str, Any], measured_jobs: Measurements, side: Side) -> dict[str, Any]:
    """The run as the other side measured it, in the same sweeps: this run's cases with that side's rounds."""
    measured = {
        case_id: rounds
        for job in measured_jobs.jobs.values()
        for (name, case_id), rounds in job.rounds.items()
        if name == side.name
    }
    case_fields = measured_jobs.selected[0].extra_info().keys()  # every case has the same fields
    benchmarks = [
        {
            **bench,
            "stats": {"data": measured[bench["param"]].seconds},
            "extra_info": {key: bench["extra_info"][key] for key in case_fields},
        }
        for bench in output_json["benchmarks"]
        if bench["param"] in measured
    ]
    about = {"api": side.about["api"], "source": side.about["source"]}
    run = {**output_json, "fileio": {**output_json["fileio"], **about}, "benchmarks": benchmarks}
    run["fileio"]["verdict"] = as_json(verdicts(run))
    return run


def python_labels(sides: list[Side]) -> dict[str, str]:
    """Each side's name for a person: its Python (``python3.14``; ``#2`` and on for one given again)."""
    labels: dict[str, str] = {}
    for side in sides:
        version = side.about["python"]["version"].rsplit(".", 1)[0]
        free = "t" if side.about["python"]["free_threaded_build"] else ""
        label = f"python{version}{free}"
        count = sum(1 for other in labels.values() if other.split("#")[0] == label)
        labels[side.name] = f"{label}#{count + 1}" if count else label
    return labels


def python_report(config: pytest.Config, previous: dict[str, dict[str, Any]]) -> list[tuple[str, bool]]:
    """With --fileio-python: each Python's tables and verdict, then which Python saves fastest."""
    sides, runs, measured = config.stash[SIDES], config.stash[PYTHON_RUNS], config.stash[MEASURED]
    labels = python_labels(sides)
    out: list[tuple[str, bool]] = []
    for side in sides[1:]:
        about = side.about["python"]
        gil = "GIL enabled" if about["gil_enabled"] else "GIL disabled"
        out += [("", False), (f"fileio on {labels[side.name]} ({about['executable']}, {gil}):", True)]
        for job in measured.jobs.values():
            results = [
                Result(measured.case(case_id), rounds.seconds, rounds.files, rounds.bytes, rounds.peak_mb,
                       job.ceilings.get(measured.case(case_id).workers) or None, job.sweeps)
                for (name, case_id), rounds in job.rounds.items()
                if name == side.name and rounds.seconds
            ]  # fmt: skip
            if results:
                out += [("", False), *job_table(results[0].case.job.name, results, None)]
        out += [("", False)] + [(line, False) for line in report(verdicts(runs[side.name]))]
    which = pythons.compare({labels[name]: run for name, run in runs.items()})
    return [*out, ("", False)] + [(line, n == 0) for n, line in enumerate(pythons.lines(which))]


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """After pytest-benchmark's table: one table per job, the fastest marked, then the verdict."""
    previous = compared_run(config)
    for note in config.stash[SETTINGS].notes:
        terminalreporter.write_line(f"fileio: {note}")
    for job_name, results in config.stash[RESULTS].items():
        terminalreporter.write_line("")
        for line, heading in job_table(job_name, results, previous):
            terminalreporter.write_line(line, bold=heading)
    if VERDICTS in config.stash:
        terminalreporter.write_line("")
        for number, line in enumerate(report(config.stash[VERDICTS])):
            terminalreporter.write_line(line, bold=number == 0)
    if PYTHON_RUNS in config.stash:
        for line, heading in python_report(config, previous):
            terminalreporter.write_line(line, bold=heading)
    if PLOTTED in config.stash:
        terminalreporter.write_line(config.stash[PLOTTED])
