"""The sweeps of a gated run (bench.sweep): after the first sweeps, only the cases whose change the gate has
not decided are measured again. Sides here are stand-ins whose rounds are drawn, so that the noise and the
true changes are known; the real runners are exercised in test_bench."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.gate import Run, compare
from bench.matrix import GATE_MIN_SWEEPS, Case, Job
from bench.stats import same_sweeps
from bench.sweep import Rounds, _decided, measure_job

JOB = Job.payload(1024, 4, "none")
CONTROL, SEQUENTIAL, THREADS, PROCESSES = (
    Case.control(JOB), Case("sequential", 1, JOB), Case("threads", 2, JOB), Case("processes", 2, JOB)
)  # fmt: skip
NOISE = 0.15  # the spread of a round's log time, as on this project's 2-core VM


class DrawnSide:
    """A side whose rounds are drawn: 10 ms times ``slower[strategy]``, with log-normal noise. Each case's
    draws come from a generator of its own, so the run does not depend on the sweeps' random order."""

    def __init__(self, name: str, slower: dict[str, float]) -> None:
        self.name, self.slower = name, slower
        self.process = SimpleNamespace(pid=os.getpid())
        self.about = {"can_forget": True}
        self.draws: dict[str, random.Random] = {}
        self.forgot: list[bool] = []  # each round's "forget"

    def runs(self, case: Case) -> bool:
        return True

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        strategy = request["strategy"]
        self.forgot.append(request["forget"])
        draw = self.draws.setdefault(strategy, random.Random(f"{self.name}-{strategy}"))
        seconds = 0.01 * self.slower.get(strategy, 1.0) * math.exp(draw.gauss(0, NOISE))
        return {"seconds": seconds, "files": request["files"], "bytes": 1024 * request["files"]}


def test_only_undecided_cases_are_swept_again_and_a_real_slowdown_is_found(tmp_path: Path) -> None:
    """Threads 15 % slower on the new side, beside rounds that vary by 15 %, at a 10 % threshold: every case
    is measured in the first sweeps, then each one exactly until the gate has decided it (its change known
    to lie above or below the threshold), the control not at all; the gate then finds threads REGRESSED.
    Every round of both sides starts from no learned figures."""
    sides: list[Any] = [DrawnSide("current", {"threads": 1.15}), DrawnSide("baseline", {})]
    cases = [CONTROL, SEQUENTIAL, THREADS, PROCESSES]
    measured = measure_job(
        cases, sides, tmp_path, min_sweeps=GATE_MIN_SWEEPS, max_sweeps=400, budget_s=60,
        verify_round=lambda case, path: None, ceiling=None, references={}, gate=10.0,
    )  # fmt: skip
    assert len(measured.rounds["current", CONTROL.id].seconds) == GATE_MIN_SWEEPS
    longest = 0
    for case in cases[1:]:
        count = len(measured.rounds["current", case.id].seconds)
        assert len(measured.rounds["baseline", case.id].seconds) == count
        longest = max(longest, count)

        def decided_after(sweeps: int, case: Case = case) -> bool:
            first = {
                (side.name, case.id): Rounds(measured.rounds[side.name, case.id].seconds[:sweeps])
                for side in sides
            }
            return _decided(case, first, sides, 10.0)

        assert decided_after(count), case.id
        assert count == GATE_MIN_SWEEPS or not decided_after(count - 1), case.id
    assert measured.sweeps == longest > GATE_MIN_SWEEPS
    assert all(all(side.forgot) for side in sides)

    def side(name: str) -> Run:
        rounds = {case.id: measured.rounds[name, case.id].seconds for case in cases[1:]}
        control = measured.rounds[name, CONTROL.id].seconds
        logs = {
            case: [math.log(a / b) for a, b in zip(*same_sweeps(seconds, control), strict=True)]
            for case, seconds in rounds.items()
        }
        return Run("quick", logs, rounds, "one session")

    verdicts = {row.case: row.verdict for row in compare(side("baseline"), side("current"), 10.0)}
    assert verdicts == {SEQUENTIAL.id: "ok", THREADS.id: "REGRESSED", PROCESSES.id: "ok"}


def test_the_gate_has_both_sides_forget_every_round_and_nothing_else_does(tmp_path: Path) -> None:
    """In the gate, every round of both sides starts from no learned figures (auto decides from them, and
    two sides that kept what each learned read apart); a run without the gate keeps them."""
    for gate, forgets in ((10.0, True), (None, False)):
        older, new = DrawnSide("baseline", {}), DrawnSide("current", {})
        sides: list[Any] = [new, older]
        measure_job(
            [CONTROL, SEQUENTIAL], sides, tmp_path, min_sweeps=3, max_sweeps=3, budget_s=60,
            verify_round=lambda case, path: None, ceiling=None, references={}, gate=gate,
        )  # fmt: skip
        assert new.forgot and set(new.forgot) == set(older.forgot) == {forgets}


class CeilingRunner:
    """A stand-in for the runner of the ceiling: records each request, answers 20 ms at every pool size."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(request)
        counts = [str(count) for count in request["concurrencies"]]
        return {"seconds": dict.fromkeys(counts, 0.02), "capacity": dict.fromkeys(counts, 1.0)}


def test_the_ceiling_is_measured_by_a_runner_of_its_own_once_a_sweep(tmp_path: Path) -> None:
    """No side's runner measures the ceiling (its later process cases ran 3-6 % slower than the same
    interpreter's beside it): the ceiling runner gets every ceiling request, one a sweep, the sides none."""
    sides: list[Any] = [DrawnSide("current", {}), DrawnSide("python-1", {})]
    ceiling: Any = CeilingRunner()
    measured = measure_job(
        [SEQUENTIAL, THREADS], sides, tmp_path, min_sweeps=3, max_sweeps=3, budget_s=60,
        verify_round=lambda case, path: None, ceiling=ceiling, references={}, gate=None,
    )  # fmt: skip
    assert [request["op"] for request in ceiling.requests] == ["ceiling"] * 3
    assert all(len(side.forgot) == 2 + 2 * 3 for side in sides)  # a warm-up and three rounds of each case
    assert measured.ceilings == {1: [0.02] * 3, 2: [0.02] * 3}
