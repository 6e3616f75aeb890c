"""``--fileio-gate``: fail the session on a significant regression. With ``--fileio-baseline``, the baseline
is that checkout's fileio measured in this run's own sweeps and compared sweep by sweep, as CI does. Without
it, the baseline is the newest earlier run of the same cases saved on this machine, each run taken relative to
its own controls: a machine that changed speed between the runs can hide or fake a change there, so the
paired form is the one to trust.
Registered by the conftest only when the option is given."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bench.adapter import saved_runs
from bench.gate import (
    Comparison,
    GateInputError,
    capacity_notes,
    compare,
    load_run,
    regressions,
    report,
    run_from_json,
)


class GatePlugin:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.history: list[Path] = []  # runs saved before this one, oldest first
        self.saved: dict[str, Any] | None = None  # this run as pytest-benchmark saves it
        self.report: str | None = None
        self.baseline_run: dict[str, Any] | None = None  # with --fileio-baseline: its side of this run

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.history = saved_runs(session.config)

    def pytest_benchmark_update_json(self, output_json: dict[str, Any]) -> None:
        self.saved = output_json

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.saved is None:
            return
        current = run_from_json(self.saved, "this run")
        if self.baseline_run is not None:
            baseline = run_from_json(self.baseline_run, "the baseline side")
            comparisons = compare(baseline, current, self.threshold)
            source = f"{self.baseline_run['fileio']['source']}, measured in the same sweeps"
            self._conclude(session, comparisons, source)
            return
        for path in reversed(self.history):
            try:
                baseline = load_run(path)
            except GateInputError:
                continue
            if (
                baseline.profile == current.profile
                and baseline.log_ratios.keys() == current.log_ratios.keys()
            ):
                break
        else:
            self.report = (
                f"fileio gate: no earlier {current.profile} run of the same {len(current.log_ratios)} cases "
                "saved on this machine to compare with; nothing gated"
            )
            return
        comparisons = compare(baseline, current, self.threshold)
        self._conclude(session, comparisons, f"the saved run {path.name}", capacity_notes(baseline, current))

    def _conclude(
        self, session: pytest.Session, comparisons: list[Comparison], source: str, notes: Sequence[str] = ()
    ) -> None:
        self.report = f"fileio gate against {source}:\n{report(comparisons, self.threshold, notes)}"
        if regressions(comparisons):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    @pytest.hookimpl(wrapper=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> Any:
        """After every other summary, the fileio tables included."""
        result = yield
        if self.report:
            terminalreporter.write_line("")
            for line in self.report.splitlines():
                terminalreporter.write_line(line)
        return result
