"""The benchmark matrix: a profile and the ``--fileio-*`` options become the cases of one run.

Pure: nothing here needs pytest, so the matrix is unit-tested directly (tests/test_matrix.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import fileio
from fileio import DURABILITIES, STRATEGIES, CsvWorkload, PayloadWorkload, Workload
from fileio.workloads import format_size, parse_size

CPUS = os.cpu_count() or 1
CSV = "csv"
WARM_POOL = "warm_pool"  # what --fileio-strategies, the tables and the ids call a Pool.KEPT case


class Start(StrEnum):
    """How a case's rounds start."""

    WARM = "warm"  # in a running program that has saved before: its interpreter, imports and kept workers up
    COLD = "cold"  # in a fresh interpreter each round, timed from its start to its exit (a script run once)


class Pool(StrEnum):
    """Whose workers a case's save runs on."""

    NEW = "new"  # the strategy's own, their start-up timed (or none: sequential, threads)
    KEPT = "kept"  # a fileio.WarmPool started before the clock (API 3 on): programs that save again and again


class Kind(StrEnum):
    """What a case measures."""

    STRATEGY = "strategy"  # a fileio strategy's save
    CONTROL = "control"  # the same bytes made and written by plain code, measured in every sweep of its job
    CEILING = "ceiling"  # the job's bytes made on N processes and written raw: the least time, per pool size


DEFAULT_GATE_THRESHOLD = 10.0
# The gate against a baseline measured in the same sweeps (bench.sweep): sweeps go on for the cases it has not
# decided. It decides none on fewer than GATE_MIN_SWEEPS, whose spread says too little of the noise.
GATE_MIN_SWEEPS = 10
GATE_MAX_SWEEPS = 400
GATE_BUDGET_S = 120.0  # per job and side
# Pythons side by side (bench.pythons) name a case slower only over this many sweeps at least: a bootstrap
# over 4 sweeps has 256 resamples at most, and in two A/A runs (an interpreter given twice) it called 2
# unchanged cases slower. A run with other Pythons has every job sweep as often.
PYTHONS_MIN_SWEEPS = 10
# Enough payload files for ~64 MiB a round, within sensible bounds: rounds of tens of milliseconds on a tmpfs.
PAYLOAD_BYTES_PER_ROUND = 64 << 20
CUSTOM_FILES = 200  # files per round of a user's own workload (--fileio-workload)

Parsed = TypeVar("Parsed")


class OptionError(ValueError):
    """A ``--fileio-*`` option has a bad value; the message names the option and the value."""


def payload_files(size: int) -> int:
    return max(16, min(2000, PAYLOAD_BYTES_PER_ROUND // max(size, 1)))


@dataclass(frozen=True)
class Job:
    """One kind of work every strategy is compared on, as plain data (a runner makes its workload from
    :meth:`spec`, a saved run keeps its fields): what makes the bytes, how many files, how durably."""

    kind: str  # what makes the bytes: "csv" (Python-made, CPU-bound), "payload" (ready bytes), "custom"
    label: str  # the name's first part: "csv", a payload's size ("4KiB"), a custom workload's class
    files: int
    durability: str
    size: int = 0  # a payload's bytes per file
    factory: str | None = None  # a custom workload: the ``module:factory`` that makes it

    @classmethod
    def csv(cls, files: int, durability: str) -> Job:
        return cls(CSV, CSV, files, durability)

    @classmethod
    def payload(cls, size: int, files: int, durability: str) -> Job:
        return cls("payload", format_size(size), files, durability, size=size)

    @classmethod
    def custom(cls, factory: str, files: int, durability: str) -> Job:
        label = type(fileio.load_workload(factory)).__name__
        return cls("custom", label, files, durability, factory=factory)

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Job:
        """The job a saved run's case was of (its ``extra_info``)."""
        label = info.get("job_label", info["job"].rsplit("-", 1)[0])  # runs saved before job_label: its name
        return cls(
            info["job_kind"],
            label,
            info["files"],
            info["durability"],
            info.get("size", 0),
            info.get("factory"),
        )

    @property
    def name(self) -> str:
        return f"{self.label}-{self.durability}"

    @cached_property
    def workload(self) -> Workload:
        """The fileio workload that makes the job's bytes, here."""
        if self.kind == CSV:
            return CsvWorkload()
        if self.kind == "payload":
            return PayloadWorkload(self.size)
        return fileio.load_workload(self.factory or "")

    def spec(self) -> dict[str, object]:
        """How a runner (bench/runner.py) makes the job's workload: plain data, sent as JSON."""
        if self.kind == CSV:
            made = CsvWorkload()
            return {"kind": CSV, "n_lines": made.n_lines, "n_values": made.n_values}
        if self.kind == "payload":
            return {"kind": "payload", "size": self.size}
        return {"kind": "custom", "factory": self.factory}

    def extra_info(self) -> dict[str, object]:
        """The job's fields, as the saved JSON keeps them for the verdict and the gate."""
        info: dict[str, object] = {"job": self.name, "job_kind": self.kind, "job_label": self.label}
        info.update(durability=self.durability, files=self.files, size=self.size, factory=self.factory)
        return info

    @property
    def has_control(self) -> bool:
        """Whether the control can make this job's bytes: only for fileio's own workloads."""
        return self.kind != "custom"


@dataclass(frozen=True)
class Case:
    """What one round measures on one job: a strategy at one pool size (a parametrised ``test_save``), the
    control, or the job's ceiling (at every pool size of its cases, one item of every sweep)."""

    strategy: str | None  # the fileio strategy (Kind.STRATEGY only)
    workers: int
    job: Job
    start: Start = Start.WARM
    pool: Pool = Pool.NEW
    kind: Kind = Kind.STRATEGY

    @classmethod
    def control(cls, job: Job, start: Start = Start.WARM) -> Case:
        return cls(None, 1, job, start, kind=Kind.CONTROL)

    @classmethod
    def ceiling(cls, job: Job) -> Case:
        return cls(None, 0, job, kind=Kind.CEILING)

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Case:
        """The case a saved run's ``extra_info`` describes."""
        strategy, pool, kind = saved_kind(info)
        return cls(strategy, info["workers"], Job.from_info(info), Start(info["start"]), pool, kind)

    @property
    def name(self) -> str:
        """What the tables and the ids call it: the strategy, ``warm_pool`` on a kept pool, or its kind."""
        if self.kind != Kind.STRATEGY:
            return str(self.kind)
        return WARM_POOL if self.pool == Pool.KEPT else str(self.strategy)

    @property
    def id(self) -> str:
        return f"{self.name}-w{self.workers}-{self.job.name}" + ("-cold" if self.start == Start.COLD else "")

    @property
    def unavailable_reason(self) -> str | None:
        return STRATEGIES[self.strategy].unavailable_reason if self.strategy is not None else None

    def extra_info(self) -> dict[str, object]:
        """What identifies the case in the saved JSON, read back by :meth:`from_info`."""
        return {
            "strategy": self.strategy, "case": self.name, "kind": self.kind, "pool": self.pool,
            "workers": self.workers, "start": self.start, **self.job.extra_info(),
        }  # fmt: skip


def saved_kind(info: Mapping[str, Any]) -> tuple[str | None, Pool, Kind]:
    """A saved case's strategy, pool and kind. Runs saved before ``kind`` and ``pool`` were fields named the
    control and the kept pool as strategies: read here, and nowhere else."""
    strategy = info["strategy"]
    if "kind" in info:
        return strategy, Pool(info["pool"]), Kind(info["kind"])
    if strategy == Kind.CONTROL:
        return None, Pool.NEW, Kind.CONTROL
    return (
        ("process_batches", Pool.KEPT, Kind.STRATEGY)
        if strategy == WARM_POOL
        else (strategy, Pool.NEW, Kind.STRATEGY)
    )


BENCH_STRATEGIES = (*STRATEGIES, WARM_POOL)


@dataclass(frozen=True)
class Profile:
    """Defaults for a run; every ``--fileio-*`` option overrides one field."""

    workers: tuple[int, ...]
    sizes: tuple[str, ...]  # "csv" or a payload size such as "256KiB"
    durabilities: tuple[str, ...]
    rounds: int  # sweeps at least: every case of a job once each, in a random order
    csv_files: int
    strategies: tuple[str, ...] = BENCH_STRATEGIES
    durable: tuple[str, str, int] | None = None  # one more job: (size, durability, files)
    cold: tuple[str, ...] = ()  # strategies (and the control) also measured in a fresh interpreter
    max_rounds: int = 40  # sweeps at most, while the intervals are still wide and the budget lasts
    budget_s: float = (
        30.0  # seconds per job, its warm-up included, unless the first ``rounds`` sweeps need more
    )


# dask starts a cluster every round: the full profile measures it, the short ones leave it out. Why each
# profile is as it is, with the measurements: docs/benchmark.md.
WITHOUT_DASK = tuple(name for name in BENCH_STRATEGIES if name != "dask")
# The quick profile's strategies: those that won a job where they were measured, auto, and the warm pool.
QUICK_STRATEGIES = ("sequential", "threads", "processes", "process_batches", "auto", WARM_POOL)
# What a script run once would call, and the control: cold start-up is where they differ most.
COLD_STRATEGIES = (Kind.CONTROL, "sequential", "threads", "process_batches", "auto")

PROFILES = {
    # A CPU-bound job, an I/O-bound one and a durable one at as many workers as CPUs, warm and cold: about
    # two minutes on two cores.
    "quick": Profile(
        workers=(CPUS,),
        sizes=(CSV, "256KiB"),
        durabilities=("none",),
        rounds=3,
        csv_files=24,
        strategies=QUICK_STRATEGIES,
        durable=("64KiB", "atomic", 128),  # 128 files: rounds short enough for many sweeps on ext4
        cold=COLD_STRATEGIES,
        max_rounds=100,  # the durable job's parallel cases need more than 40 sweeps to agree between runs
        budget_s=32.0,
    ),
    # The classic tutorial's job: 5,000 default CSV files, every strategy but dask at 8 workers.
    "seed": Profile(
        workers=(8,),
        sizes=(CSV,),
        durabilities=("none",),
        rounds=3,
        csv_files=5000,
        strategies=WITHOUT_DASK,
        max_rounds=3,
    ),
    "full": Profile(
        workers=tuple(range(1, 2 * CPUS + 1)),
        sizes=(CSV, "4KiB", "256KiB", "1MiB", "16MiB"),
        durabilities=DURABILITIES,
        rounds=5,
        csv_files=200,
        cold=COLD_STRATEGIES,
        budget_s=60.0,
    ),
}


@dataclass(frozen=True)
class Settings:
    """What one run measures, after the options were applied to the profile."""

    profile: str
    cases: list[Case]
    rounds: int  # sweeps at least
    max_rounds: int  # sweeps at most
    budget_s: float  # seconds of sweeps per job beyond the first ``rounds``
    directory: Path | None
    gate: float | None  # the gate's threshold in %, or None when the gate is off
    notes: tuple[str, ...] = ()  # what the options left out of the profile, said once at the start


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


def _workload(text: str) -> str:
    fileio.load_workload(text)  # here, to name a bad one at once
    return text


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
                jobs.append(Job.csv(files or profile.csv_files, durability))
            else:
                size = parse_size(kind)
                jobs.append(Job.payload(size, files or payload_files(size), durability))
    return jobs


def _strategy_case(name: str, workers: int, job: Job, start: Start = Start.WARM) -> Case:
    """The case a name of ``--fileio-strategies`` (a strategy, or warm_pool) stands for."""
    if name == WARM_POOL:
        return Case("process_batches", workers, job, start, Pool.KEPT)
    return Case(name, workers, job, start)


def cases_of(
    jobs: list[Job], strategies: Iterable[str], workers: tuple[int, ...], cold: Iterable[str] = ()
) -> list[Case]:
    """Each job's control and sequential, the baselines, then every other strategy at every pool size, warm;
    then the ``cold`` ones (at the largest pool size) in a fresh interpreter. A job's cases are measured
    together, sweep after sweep, each sweep in a random order."""
    cases = []
    for job in jobs:
        if job.has_control:
            cases.append(Case.control(job))
        if "sequential" in strategies:
            cases.append(Case("sequential", 1, job))
        for strategy in strategies:
            if strategy != "sequential":
                cases.extend(_strategy_case(strategy, count, job) for count in workers)
        for strategy in cold:
            if strategy == Kind.CONTROL and job.has_control:
                cases.append(Case.control(job, Start.COLD))
            elif strategy in strategies:
                count = 1 if strategy == "sequential" else max(workers)
                cases.append(_strategy_case(strategy, count, job, Start.COLD))
    return cases


def _profile_jobs(
    name: str,
    sizes: tuple[str, ...] | None,
    durabilities: tuple[str, ...] | None,
    files: int | None,
    workload: str | None,
) -> tuple[list[Job], list[str]]:
    """The jobs of profile ``name`` as the options change them, and what the run should say it left out:
    the user's own workload is one job per durability."""
    profile = PROFILES[name]
    if workload:
        count = files or CUSTOM_FILES
        return [
            Job.custom(workload, count, durability) for durability in durabilities or profile.durabilities
        ], []
    jobs = _jobs(sizes or profile.sizes, durabilities or profile.durabilities, files, profile)
    if not profile.durable:
        return jobs, []
    size, durability, count = profile.durable
    if sizes or durabilities:
        note = (
            f"--fileio-sizes/--fileio-durability replace the {name} profile's jobs: its {size} {durability} "
            "job is left out"
        )
        return jobs, [note]
    return [*jobs, Job.payload(parse_size(size), files or count, durability)], []


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

    def single(key: str, parse: Callable[[str], Parsed]) -> Parsed | None:
        values = option(key, parse)
        if values and len(values) > 1:
            raise OptionError(f"--fileio-{key}: takes one value, got {options[key]!r}")
        return values[0] if values else None

    files = single("files", _positive)
    rounds = single("rounds", _positive)
    gate = single("gate", _percent)
    directory = Path(dir_text) if (dir_text := options.get("dir")) else None
    if directory is not None and not directory.is_dir():
        raise OptionError(f"--fileio-dir: {str(directory)!r} is not an existing directory")
    jobs, notes = _profile_jobs(
        name, option("sizes", _job_kind), option("durability", _one_of(DURABILITIES)), files,
        single("workload", _workload),
    )  # fmt: skip
    cases = cases_of(
        jobs,
        option("strategies", _one_of(BENCH_STRATEGIES)) or profile.strategies,
        option("workers", _positive) or profile.workers,
        profile.cold,
    )
    if gate is not None and options.get("baseline") and not rounds:
        least, most, budget = max(profile.rounds, GATE_MIN_SWEEPS), GATE_MAX_SWEEPS, GATE_BUDGET_S
    else:
        least, most, budget = rounds or profile.rounds, rounds or profile.max_rounds, profile.budget_s
        if options.get("python") and not rounds:
            least, most = max(least, PYTHONS_MIN_SWEEPS), max(most, PYTHONS_MIN_SWEEPS)
    return Settings(name, cases, least, most, budget, directory, gate, tuple(notes))
