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
from fileio import DURABILITIES, STRATEGIES, CsvWorkload, PayloadWorkload, Workload
from fileio.workloads import format_size, parse_size

CPUS = os.cpu_count() or 1
CSV = "csv"
CONTROL = "control"  # the same bytes made and written by plain code: measured in every sweep of its job
WARM_START, COLD_START = "warm", "cold"  # in a running program, or in a fresh interpreter (a script run once)
# process_batches on a fileio.WarmPool started before the clock (API 3 on): the one case whose figure leaves
# out the pool's start-up, for programs that save batch after batch.
WARM = "warm_pool"
DEFAULT_GATE_THRESHOLD = 10.0
# The gate against a baseline measured in the same sweeps (bench.sweep): sweeps go on for the cases it has not
# decided. It decides none on fewer than GATE_MIN_SWEEPS, whose spread says too little of the noise.
GATE_MIN_SWEEPS = 10
GATE_MAX_SWEEPS = 400
GATE_BUDGET_S = 120.0  # per job and side
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
    """One kind of work every strategy is compared on: what is saved, how many files, how durably."""

    workload: Workload
    files: int
    durability: str
    factory: str | None = None  # a user's workload: the ``module:factory`` that makes it

    @property
    def kind(self) -> str:
        """What makes the bytes: "csv" (Python-generated, CPU-bound), "payload" (ready bytes) or "custom"."""
        if isinstance(self.workload, PayloadWorkload):
            return "payload"
        return CSV if isinstance(self.workload, CsvWorkload) else "custom"

    @property
    def name(self) -> str:
        if isinstance(self.workload, PayloadWorkload):
            label = format_size(self.workload.size)
        else:
            label = CSV if self.kind == CSV else type(self.workload).__name__
        return f"{label}-{self.durability}"

    def spec(self) -> dict[str, object]:
        """How a runner (bench/runner.py) makes the job's workload: plain data, sent as JSON."""
        if isinstance(self.workload, CsvWorkload):
            return {"kind": CSV, "n_lines": self.workload.n_lines, "n_values": self.workload.n_values}
        if isinstance(self.workload, PayloadWorkload):
            return {"kind": "payload", "size": self.workload.size}
        return {"kind": "custom", "factory": self.factory}

    def extra_info(self) -> dict[str, object]:
        """The job's fields, as the saved JSON keeps them for the verdict and the gate."""
        return {"job": self.name, "job_kind": self.kind, "durability": self.durability, "files": self.files}

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
    start: str = WARM_START  # COLD_START: each round in a fresh interpreter, its start-up timed

    @property
    def id(self) -> str:
        return f"{self.strategy}-w{self.workers}-{self.job.name}" + ("-cold" if self.is_cold else "")

    @property
    def is_control(self) -> bool:
        return self.strategy == CONTROL

    @property
    def is_cold(self) -> bool:
        return self.start == COLD_START

    @property
    def unavailable_reason(self) -> str | None:
        if self.is_control:
            return None
        return STRATEGIES["process_batches" if self.strategy == WARM else self.strategy].unavailable_reason

    def extra_info(self) -> dict[str, object]:
        """What identifies the case in the saved JSON, read back by the verdict and the gate."""
        return {
            "strategy": self.strategy,
            "workers": self.workers,
            "start": self.start,
            **self.job.extra_info(),
        }


BENCH_STRATEGIES = (*STRATEGIES, WARM)


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


# dask starts a cluster every round (0.5-1 s here): the full profile measures it, the short ones leave it out.
WITHOUT_DASK = tuple(name for name in BENCH_STRATEGIES if name != "dask")
# The quick profile's strategies: those that won a job on a 2-core VM (on a tmpfs and on ext4), auto, and the
# warm pool. asyncio, asyncio_threads, io_uring, pipeline, processes_threads and dask never did there (each
# 0.1-0.9x the fastest); the full profile measures them.
QUICK_STRATEGIES = ("sequential", "threads", "processes", "process_batches", "auto", WARM)
# What a script run once would call, and the control: cold start-up is where they differ most.
COLD_STRATEGIES = (CONTROL, "sequential", "threads", "process_batches", "auto")

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
        # 128 files: on this VM's ext4 a round of 512 took 0.45-0.65 s, so the budget held only 3 sweeps.
        durable=("64KiB", "atomic", 128),
        cold=COLD_STRATEGIES,
        # A 64 KiB sweep takes ~0.4 s on a tmpfs: at 40 sweeps its warm parallel cases, whose per-sweep ratios
        # vary by 13-23 %, moved up to 7 % between two unchanged runs; the budget bounds the rest.
        max_rounds=100,
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
                jobs.append(Job(CsvWorkload(), files or profile.csv_files, durability))
            else:
                size = parse_size(kind)
                jobs.append(Job(PayloadWorkload(size), files or payload_files(size), durability))
    return jobs


def cases_of(
    jobs: list[Job], strategies: Iterable[str], workers: tuple[int, ...], cold: Iterable[str] = ()
) -> list[Case]:
    """Each job's control and sequential, the baselines, then every other strategy at every pool size, warm;
    then the ``cold`` ones (at the largest pool size) in a fresh interpreter. A job's cases are measured
    together, sweep after sweep, each sweep in a random order."""
    cases = []
    for job in jobs:
        if job.has_control:
            cases.append(Case(CONTROL, 1, job))
        if "sequential" in strategies:
            cases.append(Case("sequential", 1, job))
        for strategy in strategies:
            if strategy != "sequential":
                cases.extend(Case(strategy, count, job) for count in workers)
        for strategy in cold:
            if strategy in strategies or (strategy == CONTROL and job.has_control):
                single = strategy in (CONTROL, "sequential")
                cases.append(Case(strategy, 1 if single else max(workers), job, COLD_START))
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
        made, count = fileio.load_workload(workload), files or CUSTOM_FILES
        return [
            Job(made, count, durability, workload) for durability in durabilities or profile.durabilities
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
    return [*jobs, Job(PayloadWorkload(parse_size(size)), files or count, durability)], []


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
    return Settings(name, cases, least, most, budget, directory, gate, tuple(notes))
