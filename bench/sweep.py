"""The measurement design: a job's cases are measured together, sweep after sweep, every case once per sweep
in a new random order, so that whatever the machine does meanwhile (its disk, another tenant) falls on every
case alike instead of on whichever case ran then. Ratios are taken within a sweep (a case over the control, or
over sequential, measured seconds apart), and the job's ceiling is measured in every sweep too, so an
efficiency compares figures of the same minute.

Every round runs in a runner process (``bench/runner.py``): warm rounds in one long-lived runner per side,
cold rounds in a fresh interpreter each, timed from its start to its exit. A side is the fileio of one
checkout; CI adds the parent commit's as a second side: each case's rounds of the two sides then run back to
back within the sweep, in a random order, and the gate compares them sweep by sweep.
Sweeps go on past the minimum until every case's ratio to the job's reference is known within
``PRECISION``, or the job's budget or the most rounds are spent.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from bench.matrix import Case, Job, Kind, Start
from bench.memory import PeakMemory
from bench.protocol import CeilingRequest, Request, SaveRequest
from bench.stats import same_sweeps, typical_log, typical_log_half_width

RUNNER = Path(__file__).with_name("runner.py")
PRECISION = 0.02  # stop once every case's ratio to the reference is known within +-2 % (95 %)
# The gate's sweeps stop for a case once its change is known to lie above or below the threshold at this
# confidence: a case is looked at after every sweep, and at 95 % one in thirty cases 15 % slower was decided
# below 10 % by a run of lucky sweeps (simulated, rounds varying by 15 %); at 99 %, none in sixty.
DECIDED_CONFIDENCE = 0.99


class MeasurementError(Exception):
    """A round failed; the message names the case and the side."""


class Side:
    """The fileio of one checkout on one interpreter, measured through a runner process kept warm (and fresh
    ones for cold)."""

    def __init__(self, name: str, code: Path, cache: Path, python: str = sys.executable) -> None:
        """``cache``: this side's cache directory, for fileio's figures (FILEIO_CACHE_DIR) and for the
        bytecode its interpreters compile (PYTHONPYCACHEPREFIX); ``python``: the interpreter its runners
        run on (with fileio's dependencies installed for it)."""
        self.name, self.code, self.python = name, code, python
        # A script run once imports compiled bytecode, as pip leaves it: with PYTHONDONTWRITEBYTECODE (which
        # Docker images often set) on a checkout, every cold round would compile fileio again, ~30 ms. The
        # warm-up writes it into this run's cache, never into the checkout.
        self.environment = {
            **{key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
            "PYTHONPYCACHEPREFIX": str(cache / "bytecode"),
            "FILEIO_CACHE_DIR": str(cache),
        }
        self.process = subprocess.Popen(
            [python, str(RUNNER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=self.environment, cwd=code,
        )  # fmt: skip
        self.about = self.ask({"op": "about"})
        # Load its pool machinery now (and start its fork server, where fileio uses one), so that no case's
        # first round pays it (nor counts its memory).
        directory = tempfile.mkdtemp()
        self.ask(save_request(Case("process_batches", 1, Job.payload(1, 1, "none")), directory, forget=False))
        shutil.rmtree(directory)

    def runs(self, case: Case) -> bool:
        """Whether this side's fileio can run the case (a parent commit may lack a strategy, or a binding)."""
        return case.strategy is None or bool(self.about["can_run"].get(case.strategy))

    def ask(self, request: Request) -> dict[str, Any]:
        """One request to the warm runner."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise MeasurementError(f"the {self.name} side's runner ended (exit {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def cold(self, request: SaveRequest) -> tuple[float, dict[str, Any]]:
        """One request in a fresh interpreter: its whole life's wall seconds, and its answer."""
        start = time.perf_counter()
        done = subprocess.run(
            [self.python, str(RUNNER), json.dumps(request)], capture_output=True, text=True,
            env=self.environment, cwd=self.code,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        lines = done.stdout.strip().splitlines()
        answer = (
            json.loads(lines[-1]) if lines else {"error": f"exit {done.returncode}: {done.stderr[-500:]}"}
        )
        return seconds, answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)


@dataclass
class Rounds:
    """One case on one side: its round times in sweep order, and what a round wrote."""

    seconds: list[float] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    peak_mb: float | None = None  # the runner's tree above its start at the peak of the warm-up round (warm)
    error: str | None = None  # why a round failed (an error, wrong bytes): the case is measured no more


@dataclass
class JobMeasurement:
    """Every case of a job on every side, sweep-aligned, and the job's ceiling per pool size per sweep."""

    rounds: dict[tuple[str, str], Rounds]  # (side, case id) -> its rounds
    ceilings: dict[int, list[float]]  # workers -> the ceiling measured in each sweep
    capacities: dict[int, list[float]]  # workers -> how many times as fast as one they made bytes, each sweep
    sweeps: int
    seconds: float  # how long the sweeps took


def measure_job(
    cases: list[Case],
    sides: list[Side],
    root: Path,
    min_sweeps: int,
    max_sweeps: int,
    budget_s: float,
    verify_round: Callable[[Case, Path], None],
    ceiling: Side | None,
    references: dict[str, Case],
    gate: float | None = None,
) -> JobMeasurement:
    """Measure ``cases`` (one job's) on every side: a warm-up round each (memory sampled), then sweeps until
    the stop rule says so, one more sweep would end past ``budget_s`` (warm-up included) or ``max_sweeps``
    ran (at least ``min_sweeps``). ``verify_round`` checks each round's files before they are removed; a
    case whose round fails is measured no more, its error kept. ``ceiling``, where given, measures the job's
    ceiling once a sweep.

    The stop rule is :class:`Precise` (every case's ratio to the reference of its start, ``references``,
    within ``PRECISION``), or with two sides and ``gate`` (a threshold in %) :class:`Gated`, within a budget
    of ``budget_s`` per side."""
    gated = gate is not None and len(sides) == 2
    rule: StopRule = Gated(gate, sides) if gate is not None and gated else Precise(references, sides, cases)
    sweeper = Sweeper(cases, sides, root, verify_round, forget=gated)
    budget = budget_s * len(sides) if gate is not None else budget_s
    return sweeper.measure(min_sweeps, max_sweeps, budget, ceiling, rule)


class StopRule(Protocol):
    def next_items(self, items: list[Case], rounds: dict[tuple[str, str], Rounds]) -> list[Case]:
        """The items the next sweep holds, once the first sweeps ran; none to stop."""
        ...


@dataclass
class Precise:
    """Stop once every case's ratio to its start's reference, on every side, is known within ``PRECISION``."""

    references: dict[str, Case]
    sides: list[Side]
    cases: list[Case]

    def next_items(self, items: list[Case], rounds: dict[tuple[str, str], Rounds]) -> list[Case]:
        return [] if _precise(rounds, self.sides, self.cases, self.references) else items


@dataclass
class Gated:
    """The gate's rule: a sweep holds only the cases whose change from the baseline side to this one is not
    yet known to lie above or below ``gate`` %, until none is left. A case far from the threshold is decided
    in the first sweeps; one near it, where a verdict could go either way, gets the sweeps that follow. So a
    case's rounds are those of the run's first sweeps (``bench.stats.same_sweeps``)."""

    gate: float
    sides: list[Side]

    def next_items(self, items: list[Case], rounds: dict[tuple[str, str], Rounds]) -> list[Case]:
        return [
            item
            for item in items
            if item.kind != Kind.CEILING and not _decided(item, rounds, self.sides, self.gate)
        ]


class Sweeper:
    """Runs one job's rounds on every side and keeps them: :meth:`measure` is the sweep loop."""

    def __init__(
        self, cases: list[Case], sides: list[Side], root: Path, verify_round: Callable[[Case, Path], None],
        forget: bool,
    ) -> None:  # fmt: skip
        self.cases, self.sides, self.root, self.verify_round = cases, sides, root, verify_round
        # In the gate, every round starts from no learned figures, on both sides: auto decides from them, and
        # two unchanged sides that kept what each learned read 16-19 % apart on a case (a side's choices lock
        # in).
        self.forget = forget
        self.job = cases[0].job
        self.rounds = {(side.name, case.id): Rounds() for side in sides for case in cases if side.runs(case)}
        self.concurrencies = sorted({case.workers for case in cases})
        self.ceilings: dict[int, list[float]] = {count: [] for count in self.concurrencies}
        self.capacities: dict[int, list[float]] = {count: [] for count in self.concurrencies}

    def measure(
        self, min_sweeps: int, max_sweeps: int, budget_s: float, ceiling: Side | None, rule: StopRule
    ) -> JobMeasurement:
        """A warm-up round of every case, then sweeps of the items in a new random order each (the sides of
        an item back to back in a random order, so that two commits' rounds are measured moments apart)."""
        order = random.Random()  # a new order each sweep and each run
        start = time.monotonic()
        for case in self.cases:
            for side in self.sides:
                if side.runs(case):
                    self.run(side, case, warm_up=True)
        items = [*self.cases, *([Case.ceiling(self.job)] if ceiling is not None else [])]
        sweeps, last_sweep_s = 0, 0.0
        while sweeps < max_sweeps:
            swept = time.monotonic()
            if sweeps >= min_sweeps:
                if swept + last_sweep_s - start > budget_s:  # one more sweep would end past the budget
                    break
                items = rule.next_items(items, self.rounds)
                if not items:
                    break
            order.shuffle(items)
            for item in items:
                if item.kind == Kind.CEILING and ceiling is not None:
                    self.ceiling(ceiling)
                    continue
                for side in order.sample(self.sides, len(self.sides)):
                    if side.runs(item):
                        self.run(side, item, warm_up=False)
            sweeps += 1
            last_sweep_s = time.monotonic() - swept
        return JobMeasurement(self.rounds, self.ceilings, self.capacities, sweeps, time.monotonic() - start)

    def run(self, side: Side, case: Case, warm_up: bool) -> None:
        """One round of ``case`` on ``side``, verified; a warm warm-up round samples the runner's memory."""
        entry = self.rounds[side.name, case.id]
        if entry.error is not None:
            return
        directory = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=self.root))
        request = save_request(case, str(directory), self.forget)
        try:
            if case.start == Start.COLD:
                seconds, answer = side.cold(request)
            else:
                with PeakMemory(side.process.pid) if warm_up else nullcontext() as peak:
                    answer = side.ask(request)
                seconds = answer.get("seconds", 0.0)
                entry.peak_mb = peak.mb if peak is not None else entry.peak_mb
            if "error" in answer:
                entry.error = f"{case.id} on the {side.name} side: {answer['error']}"
            else:
                self.verify_round(case, directory)
        except AssertionError as error:  # fileio.VerificationError: wrong bytes
            entry.error = f"{case.id} on the {side.name} side: {error}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        if not warm_up and entry.error is None:
            entry.seconds.append(seconds)
            entry.files, entry.bytes = answer["files"], answer["bytes"]

    def ceiling(self, runner: Side) -> None:
        """The job's ceiling at each pool size, measured by ``runner``: a runner of its own, not a side's,
        whose later rounds would pay for it (a side measuring it ran its warm process cases 3-6 % slower than
        the same interpreter beside it, sweep after sweep)."""
        job = self.job
        request: CeilingRequest = {
            "op": "ceiling", "job": job.spec(), "files": job.files, "durability": job.durability,
            "directory": str(self.root), "concurrencies": self.concurrencies,
        }  # fmt: skip
        answer = runner.ask(request)
        if "error" in answer:
            raise MeasurementError(f"the ceiling of {job.name}: {answer['error']}")
        for count in self.concurrencies:
            self.ceilings[count].append(answer["seconds"][str(count)])
            if (capacity := answer["capacity"][str(count)]) is not None:
                self.capacities[count].append(capacity)


def save_request(case: Case, directory: str, forget: bool) -> SaveRequest:
    """The request for one round of ``case`` (a strategy's or the control's) into ``directory``."""
    job = case.job
    return {
        "op": "save", "kind": case.kind, "strategy": case.strategy, "pool": case.pool,
        "workers": case.workers, "job": job.spec(), "files": job.files, "durability": job.durability,
        "directory": directory, "forget": forget,
    }  # fmt: skip


def _precise(
    rounds: dict[tuple[str, str], Rounds], sides: list[Side], cases: list[Case], references: dict[str, Case]
) -> bool:
    """Whether every case's ratio to its start's reference, on every side, is known within ``PRECISION``."""
    pairs = [
        (rounds[side.name, case.id], rounds[side.name, reference.id])
        for side in sides
        for case in cases
        if (reference := references.get(case.start)) is not None and case is not reference
        and (side.name, case.id) in rounds and (side.name, reference.id) in rounds
    ]  # fmt: skip
    return all(
        typical_log_half_width(_logs(case.seconds, reference.seconds)) <= math.log1p(PRECISION)
        for case, reference in pairs
        if case.error is None and reference.error is None
    )


def _decided(case: Case, rounds: dict[tuple[str, str], Rounds], sides: list[Side], gate: float) -> bool:
    """Whether the case's typical change from the baseline side to this one is known (at
    ``DECIDED_CONFIDENCE``) to lie above or below ``gate`` %, so that more sweeps would not change the gate's
    verdict on it; a control, and a case one side cannot run, are decided at once."""
    current, baseline = sides
    new, old = rounds.get((current.name, case.id)), rounds.get((baseline.name, case.id))
    if case.kind == Kind.CONTROL or new is None or old is None or new.error or old.error:
        return True
    logs = _logs(new.seconds, old.seconds)
    distance = abs(float(typical_log(logs)) - math.log1p(gate / 100))
    return distance > typical_log_half_width(logs, DECIDED_CONFIDENCE)


def _logs(case: list[float], reference: list[float]) -> list[float]:
    return [math.log(a / b) for a, b in zip(*same_sweeps(case, reference), strict=True)]
