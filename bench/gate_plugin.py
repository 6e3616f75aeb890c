"""``--fileio-gate``: compare this run with the newest earlier run of the same cases on this machine, and fail
the session on a significant regression. Registered by the conftest only when the option is given."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.gate import GateInputError, compare, load_run, regressions, report, run_from_json


class GatePlugin:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.history: list[Path] = []  # runs saved before this one, oldest first
        self.saved: dict[str, Any] | None = None  # this run as pytest-benchmark saves it
        self.report: str | None = None

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        storage = session.config._benchmarksession.storage  # type: ignore[attr-defined]  # noqa: SLF001
        self.history = [Path(path) for path in storage.query()]

    def pytest_benchmark_update_json(self, output_json: dict[str, Any]) -> None:
        self.saved = output_json

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.saved is None:
            return
        current = run_from_json(self.saved, "this run")
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
        self.report = f"fileio gate against {path.name}:\n{report(comparisons, self.threshold)}"
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
