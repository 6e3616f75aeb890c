"""The benchmark matrix: profiles and ``--fileio-*`` options become cases, results become one table per job.

Run ``pytest bench/`` (serially). Every run is saved with its raw rounds in ``.benchmarks/`` so that
``pytest bench/ --benchmark-compare`` compares with the previous run, and ``--fileio-gate`` applies
fileio's regression gate (:mod:`fileio.gate`) to it. Each job starts and ends with a control case
(``control``, ``control_again``): the same bytes written by a plain loop of ``os.write``, no fileio code,
against which the gate measures every case.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pytest_benchmark.utils import get_tag

from fileio import DURABILITIES, STRATEGIES, CsvWorkload, PayloadWorkload, SaveReport, Workload
from fileio.gate import (
    CONTROL,
    CONTROL_AGAIN,
    CONTROLS,
    DEFAULT_THRESHOLD,
    GateInputError,
    compare,
    load_run,
    regressions,
    report,
    run_from_json,
)
from fileio.strategies import unavailable_reason
from fileio.workloads import format_size, parse_size

CPUS = os.cpu_count() or 1
CSV = "csv"
# Enough payload files for ~64 MiB a round, within sensible bounds.
PAYLOAD_BYTES_PER_ROUND = 64 << 20


def payload_files(size: int) -> int:
    return max(16, min(2000, PAYLOAD_BYTES_PER_ROUND // max(size, 1)))


@dataclass(frozen=True)
class Job:
    """One kind of work every strategy is compared on: what is saved, how many files, how durably."""

    workload: Workload
    files: int
    durability: str

    @property
    def name(self) -> str:
        kind = CSV if isinstance(self.workload, CsvWorkload) else format_size(self.workload.size)
        return f"{kind}-{self.durability}"


@dataclass(frozen=True)
class Case:
    strategy: str
    workers: int
    job: Job

    @property
    def id(self) -> str:
        return f"{self.strategy}-w{self.workers}-{self.job.name}"


@dataclass(frozen=True)
class Profile:
    """Defaults for a run; every ``--fileio-*`` option overrides one field."""

    workers: tuple[int, ...]
    sizes: tuple[str, ...]  # "csv" or a payload size such as "256KiB"
    durabilities: tuple[str, ...]
    rounds: int
    csv_files: int
    strategies: tuple[str, ...] = tuple(STRATEGIES)


PROFILES = {
    # A CPU-bound and an I/O-bound job at a few pool sizes: about two minutes on two cores.
    "quick": Profile(
        workers=(1, 2, 4), sizes=(CSV, "256KiB"), durabilities=("none",), rounds=5, csv_files=48
    ),
    # The classic tutorial's job: 5,000 default CSV files, every strategy at 8 workers.
    "seed": Profile(workers=(8,), sizes=(CSV,), durabilities=("none",), rounds=3, csv_files=5000),
    "full": Profile(
        workers=tuple(range(1, 2 * CPUS + 1)),
        sizes=(CSV, "4KiB", "256KiB", "1MiB", "16MiB"),
        durabilities=DURABILITIES,
        rounds=5,
        csv_files=200,
    ),
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fileio", "fileio benchmark matrix")
    group.addoption("--fileio-profile", default="quick", help=f"one of {', '.join(PROFILES)} (default quick)")
    group.addoption("--fileio-files", help="files per round for every job")
    group.addoption("--fileio-workers", help="pool sizes, e.g. 1,2,4")
    group.addoption("--fileio-strategies", help="strategy names, e.g. sequential,processes")
    group.addoption("--fileio-sizes", help="jobs: csv and/or payload sizes, e.g. csv,4KiB,1MiB")
    group.addoption("--fileio-durability", help="durabilities, e.g. none,fsync,atomic")
    group.addoption("--fileio-rounds", help="timed rounds per case (after one warm-up round)")
    group.addoption("--fileio-dir", help="benchmark on this directory's filesystem instead of a temp dir")
    group.addoption(
        "--fileio-gate",
        nargs="?",
        const=str(DEFAULT_THRESHOLD),
        metavar="PCT",
        help=f"fail on a significant slowdown over PCT% (default {DEFAULT_THRESHOLD:g}) vs the previous run",
    )


def _listed(option: str, text: str, parse: Callable[[str], object]) -> tuple:
    values = []
    for item in text.split(","):
        try:
            values.append(parse(item.strip()))
        except ValueError as error:
            raise pytest.UsageError(f"--fileio-{option}: {error}") from None
    return tuple(values)


def _single(option: str, text: str | None) -> int | None:
    """The whole number >= 1 an option holds, or None when it was not given."""
    return _listed(option, text, _positive)[0] if text else None


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{text!r} is not a percentage > 0")
    return value


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _one_of(choices: Iterable[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"unknown value {text!r}; choose from {', '.join(choices)}")
        return text

    return parse


def _job_kind(text: str) -> str:
    if text == CSV:
        return text
    parse_size(text)  # raises ValueError naming the text
    return text


@dataclass
class Settings:
    """What this run measures, after options were applied to the profile."""

    profile: str
    cases: list[Case]
    rounds: int
    directory: Path | None
    gate: float | None
    results: dict[str, list[Result]] = field(default_factory=dict)
    saved: dict | None = None  # this run as saved, for the gate
    history: list[Path] = field(default_factory=list)  # runs saved before this one, oldest first
    gate_report: str | None = None

    def record(self, case: Case, median: float, report: SaveReport, extra_info: dict) -> None:
        """Keep a case's result for the end-of-run tables and put its throughput in the saved JSON."""
        results = self.results.setdefault(case.job.name, [])
        result = Result(case, median, report.files, report.bytes)
        results.append(result)
        speedup = result.speedup(sequential_result(results))
        extra_info.update(
            files=result.files,
            bytes=result.bytes,
            mb_per_s=result.bytes / 1e6 / median,
            files_per_s=result.files / median,
            speedup=speedup,
        )


def read_settings(config: pytest.Config) -> Settings:
    """The cases and rounds from ``--fileio-profile`` and the overrides; UsageError names any bad value."""
    option = config.getoption
    name = option("fileio_profile")
    if name not in PROFILES:
        raise pytest.UsageError(
            f"--fileio-profile: unknown profile {name!r}; choose from {', '.join(PROFILES)}"
        )
    profile = PROFILES[name]
    files = _single("files", option("fileio_files"))
    workers = _listed("workers", option("fileio_workers"), _positive) if option("fileio_workers") else None
    strategies = option("fileio_strategies")
    strategies = _listed("strategies", strategies, _one_of(STRATEGIES)) if strategies else profile.strategies
    sizes = _listed("sizes", option("fileio_sizes"), _job_kind) if option("fileio_sizes") else profile.sizes
    durability = option("fileio_durability")
    durabilities = _listed("durability", durability, _one_of(DURABILITIES)) if durability else None
    rounds = _single("rounds", option("fileio_rounds"))
    gate = option("fileio_gate") and _listed("gate", option("fileio_gate"), _percent)[0]
    directory = option("fileio_dir") and Path(option("fileio_dir"))
    if directory and not directory.is_dir():
        raise pytest.UsageError(f"--fileio-dir: {str(directory)!r} is not an existing directory")

    jobs = []
    for kind in sizes:
        for durability in durabilities or profile.durabilities:
            if kind == CSV:
                jobs.append(Job(CsvWorkload(), files or profile.csv_files, durability))
            else:
                size = parse_size(kind)
                jobs.append(Job(PayloadWorkload(size), files or payload_files(size), durability))
    cases = []
    for job in jobs:
        # Each job opens with its control and sequential, the baselines, and closes with the control again:
        # the gate pools both control cases, so the job's start and end both speak for the machine.
        cases.append(Case(CONTROL, 1, job))
        for strategy in strategies:
            pool_sizes = (1,) if strategy == "sequential" else workers or profile.workers
            cases.extend(Case(strategy, count, job) for count in pool_sizes)
        cases.append(Case(CONTROL_AGAIN, 1, job))
    cases.sort(
        key=lambda case: (jobs.index(case.job), case.strategy != CONTROL, case.strategy != "sequential")
    )
    return Settings(name, cases, rounds or profile.rounds, directory, gate)


SETTINGS = pytest.StashKey[Settings]()


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("numprocesses", None):
        raise pytest.UsageError(
            "fileio benchmarks must run serially: run `pytest bench/` without -n "
            "(pytest-xdist would silently disable every timing)"
        )
    config.stash[SETTINGS] = read_settings(config)
    # History without extra flags: every run is saved with its raw rounds, ready for --benchmark-compare.
    config.option.benchmark_autosave = config.option.benchmark_autosave or get_tag()
    config.option.benchmark_save_data = True


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = metafunc.config.stash[SETTINGS].cases
        params = []
        for case in cases:
            reason = unavailable_reason(case.strategy)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            params.append(pytest.param(case, id=case.id, marks=marks))
        metafunc.parametrize("case", params)


@pytest.fixture(scope="session")
def settings(request: pytest.FixtureRequest) -> Settings:
    return request.config.stash[SETTINGS]


@pytest.fixture(scope="session")
def target_root(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each round's fresh directory is made: ``--fileio-dir`` or a temporary directory."""
    return settings.directory or tmp_path_factory.mktemp("fileio-bench")


@dataclass(frozen=True)
class Result:
    """One case's outcome: its median over the timed rounds and what each round wrote."""

    case: Case
    median: float
    files: int
    bytes: int

    def speedup(self, baseline: Result | None) -> float | None:
        return baseline.median / self.median if baseline else None


def sequential_result(results: list[Result]) -> Result | None:
    return next((result for result in results if result.case.strategy == "sequential"), None)


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


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Record what decides file-saving speed; drop fields that drift on one host (CPU frequency)."""
    for key in [key for key in machine_info.get("cpu", {}) if key.startswith("hz_actual")]:
        del machine_info["cpu"][key]
    machine_info["cpu_count"] = CPUS
    machine_info["memory_total"] = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    # Without --fileio-dir, rounds are written under pytest's temporary directory, in the system's temp dir.
    machine_info["filesystem"] = filesystem_type(
        config.stash[SETTINGS].directory or Path(tempfile.gettempdir())
    )


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    settings = config.stash[SETTINGS]
    output_json["fileio"] = {"profile": settings.profile, "rounds": settings.rounds}
    settings.saved = output_json


def pytest_sessionstart(session: pytest.Session) -> None:
    settings = session.config.stash[SETTINGS]
    if settings.gate is not None:
        storage = session.config._benchmarksession.storage  # noqa: SLF001  (pytest-benchmark's history)
        settings.history = [Path(path) for path in storage.query()]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """With --fileio-gate, compare this run with the newest earlier one of the same profile on this machine,
    and fail the session on a regression."""
    settings = session.config.stash[SETTINGS]
    if settings.gate is None or settings.saved is None:
        return
    current = run_from_json(settings.saved, "this run")
    for path in reversed(settings.history):
        try:
            baseline = load_run(path)
        except GateInputError:
            continue
        if baseline.profile == current.profile:
            break
    else:
        settings.gate_report = (
            f"fileio gate: no earlier {current.profile} run saved on this machine to compare with"
        )
        return
    try:
        comparisons = compare(baseline, current, settings.gate)
    except GateInputError as error:
        settings.gate_report = f"fileio gate: {error}"
        session.exitstatus = pytest.ExitCode.USAGE_ERROR
        return
    settings.gate_report = f"fileio gate against {path.name}:\n{report(comparisons, settings.gate)}"
    if regressions(comparisons):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    """After pytest-benchmark's table: one table per job, the fastest marked."""
    settings = config.stash[SETTINGS]
    write = terminalreporter.write_line
    for job_name, results in settings.results.items():
        first = results[0]
        baseline = sequential_result(results)
        strategies = [result for result in results if result.case.strategy not in CONTROLS]
        fastest = min(strategies, key=lambda result: result.median, default=None)
        write("")
        write(
            f"fileio {job_name}: {first.files} files, {first.bytes / 1e6:.1f} MB a round, "
            f"median of {settings.rounds} rounds",
            bold=True,
        )
        write(f"{'strategy':<20}{'workers':>8}{'median s':>11}{'MB/s':>10}{'files/s':>10}{'speed-up':>10}")
        for result in results:
            speedup = result.speedup(baseline)
            write(
                f"{result.case.strategy:<20}{result.case.workers:>8}{result.median:>11.4f}"
                f"{result.bytes / 1e6 / result.median:>10.1f}{result.files / result.median:>10.1f}"
                f"{'-' if speedup is None else f'{speedup:.2f}x':>10}"
                f"{'  <- fastest' if result is fastest else ''}"
            )
    if settings.gate_report:
        write("")
        for line in settings.gate_report.splitlines():
            write(line)
