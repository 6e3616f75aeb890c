"""The benchmark matrix: a profile and the ``--fileio-*`` options become the cases of one run.

Pure: nothing here needs pytest, so the matrix is unit-tested directly (tests/test_matrix.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import fileio
from bench import has_api
from fileio import DURABILITIES, STRATEGIES, CsvWorkload, PayloadWorkload, Workload, format_size, parse_size

CPUS = os.cpu_count() or 1
CSV = "csv"
CONTROL = "control"  # a job's first case; its last is CONTROL_AGAIN, and the gate pools the two
CONTROL_AGAIN = "control_again"
CONTROLS = (CONTROL, CONTROL_AGAIN)
# process_batches on a fileio.WarmPool started before the clock (API 3 on): the one case whose figure leaves
# out the pool's start-up, for programs that save batch after batch.
WARM = "warm_pool"
DEFAULT_GATE_THRESHOLD = 10.0
# Enough payload files for ~32 MiB a round, within sensible bounds: the quick profile stays within two minutes
# on a 2-core VM's ext4 disk.
PAYLOAD_BYTES_PER_ROUND = 32 << 20
CUSTOM_FILES = 200  # files per round of a user's own workload (--fileio-workload)

Parsed = TypeVar("Parsed")


class OptionError(ValueError):
    """A ``--fileio-*`` option has a bad value; the message names the option and the value."""


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
        if isinstance(self.workload, PayloadWorkload):
            kind = format_size(self.workload.size)
        else:
            kind = CSV if isinstance(self.workload, CsvWorkload) else type(self.workload).__name__
        return f"{kind}-{self.durability}"

    @property
    def has_control(self) -> bool:
        """Whether the control can make this job's bytes: only for fileio's own workloads."""
        return isinstance(self.workload, (CsvWorkload, PayloadWorkload))


@dataclass(frozen=True)
class Case:
    """One strategy at one pool size on one job: a parametrised ``test_save``."""

    strategy: str
    workers: int
    job: Job

    @property
    def id(self) -> str:
        return f"{self.strategy}-w{self.workers}-{self.job.name}"

    @property
    def is_control(self) -> bool:
        return self.strategy in CONTROLS

    @property
    def unavailable_reason(self) -> str | None:
        if self.is_control:
            return None
        return STRATEGIES["process_batches" if self.strategy == WARM else self.strategy].unavailable_reason

    def extra_info(self) -> dict[str, object]:
        """What identifies the case in the saved JSON, read back by the gate."""
        return {"strategy": self.strategy, "workers": self.workers, "job": self.job.name}


BENCH_STRATEGIES = (*STRATEGIES, WARM) if has_api(3) else tuple(STRATEGIES)


@dataclass(frozen=True)
class Profile:
    """Defaults for a run; every ``--fileio-*`` option overrides one field."""

    workers: tuple[int, ...]
    sizes: tuple[str, ...]  # "csv" or a payload size such as "256KiB"
    durabilities: tuple[str, ...]
    rounds: int
    csv_files: int
    strategies: tuple[str, ...] = BENCH_STRATEGIES
    durable: tuple[str, str, int] | None = None  # one more job: (size, durability, files)


# dask starts a cluster every round (0.5-1 s here): the full profile measures it, the short ones leave it out.
WITHOUT_DASK = tuple(name for name in BENCH_STRATEGIES if name != "dask")

PROFILES = {
    # A CPU-bound job, an I/O-bound one and a durable one at a few pool sizes: about two minutes on two cores.
    "quick": Profile(
        workers=(1, 2, 4),
        sizes=(CSV, "256KiB"),
        durabilities=("none",),
        rounds=5,
        csv_files=48,
        strategies=WITHOUT_DASK,
        durable=("64KiB", "atomic", 64),
    ),
    # The classic tutorial's job: 5,000 default CSV files, every strategy but dask at 8 workers.
    "seed": Profile(
        workers=(8,), sizes=(CSV,), durabilities=("none",), rounds=3, csv_files=5000, strategies=WITHOUT_DASK
    ),
    "full": Profile(
        workers=tuple(range(1, 2 * CPUS + 1)),
        sizes=(CSV, "4KiB", "256KiB", "1MiB", "16MiB"),
        durabilities=DURABILITIES,
        rounds=5,
        csv_files=200,
    ),
}


@dataclass(frozen=True)
class Settings:
    """What one run measures, after the options were applied to the profile."""

    profile: str
    cases: list[Case]
    rounds: int
    directory: Path | None
    gate: float | None  # the gate's threshold in %, or None when the gate is off


def _listed(option: str, text: str, parse: Callable[[str], Parsed]) -> tuple[Parsed, ...]:
    values = []
    for item in text.split(","):
        try:
            values.append(parse(item.strip()))
        except ValueError as error:
            raise OptionError(f"--fileio-{option}: {error}") from None
    return tuple(values)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{text!r} is not a whole number >= 1")
    return int(text)


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{text!r} is not a percentage > 0")
    return value


def _one_of(choices: Iterable[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"unknown value {text!r}; choose from {', '.join(choices)}")
        return text

    return parse


def _workload(text: str) -> Workload:
    if not has_api(2):
        raise ValueError(f"needs fileio API 2; the fileio measured has API {fileio.API_VERSION}")
    return fileio.load_workload(text)


def _job_kind(text: str) -> str:
    if text != CSV:
        parse_size(text)  # raises ValueError naming the text
    return text


def _jobs(
    sizes: Iterable[str], durabilities: Iterable[str], files: int | None, profile: Profile
) -> list[Job]:
    jobs = []
    for kind in sizes:
        for durability in durabilities:
            if kind == CSV:
                jobs.append(Job(CsvWorkload(), files or profile.csv_files, durability))
            else:
                size = parse_size(kind)
                jobs.append(Job(PayloadWorkload(size), files or payload_files(size), durability))
    return jobs


def cases_of(jobs: list[Job], strategies: Iterable[str], workers: tuple[int, ...]) -> list[Case]:
    """Each job opens with its control and sequential, the baselines, then every other strategy at every pool
    size, and closes with the control again: the gate pools both controls, so the job's start and end both
    speak for the machine."""
    cases = []
    for job in jobs:
        if job.has_control:
            cases.append(Case(CONTROL, 1, job))
        if "sequential" in strategies:
            cases.append(Case("sequential", 1, job))
        for strategy in strategies:
            if strategy != "sequential":
                cases.extend(Case(strategy, count, job) for count in workers)
        if job.has_control:
            cases.append(Case(CONTROL_AGAIN, 1, job))
    return cases


def read_settings(options: Mapping[str, str | None]) -> Settings:
    """The run's settings from the ``--fileio-*`` options, keyed without the prefix (``"profile"``,
    ``"workers"``, ...; None when not given). OptionError names any bad value."""
    name = options.get("profile") or "quick"
    if name not in PROFILES:
        raise OptionError(f"--fileio-profile: unknown profile {name!r}; choose from {', '.join(PROFILES)}")
    profile = PROFILES[name]

    def option(key: str, parse: Callable[[str], Parsed]) -> tuple[Parsed, ...] | None:
        text = options.get(key)
        return _listed(key, text, parse) if text else None

    files = option("files", _positive)
    rounds = option("rounds", _positive)
    gate = option("gate", _percent)
    directory = Path(dir_text) if (dir_text := options.get("dir")) else None
    if directory is not None and not directory.is_dir():
        raise OptionError(f"--fileio-dir: {str(directory)!r} is not an existing directory")
    sizes, durabilities = option("sizes", _job_kind), option("durability", _one_of(DURABILITIES))
    workload = option("workload", _workload)
    if workload:  # the user's own: one job per durability
        count = files[0] if files else CUSTOM_FILES
        jobs = [Job(workload[0], count, durability) for durability in durabilities or profile.durabilities]
    else:
        jobs = _jobs(
            sizes or profile.sizes, durabilities or profile.durabilities, files[0] if files else None, profile
        )
        if profile.durable and not (sizes or durabilities):
            size, durability, count = profile.durable
            jobs.append(Job(PayloadWorkload(parse_size(size)), files[0] if files else count, durability))
    cases = cases_of(
        jobs,
        option("strategies", _one_of(BENCH_STRATEGIES)) or profile.strategies,
        option("workers", _positive) or profile.workers,
    )
    return Settings(
        name, cases, rounds[0] if rounds else profile.rounds, directory, gate[0] if gate else None
    )
