"""The one place the bench reaches into pytest-benchmark beyond its public API, which has no way to record
rounds measured elsewhere, nor to read its storage and compared runs from a plugin.
``tests/test_bench.py::test_the_pytest_benchmark_adapter_holds`` fails loudly if pytest-benchmark changes
under it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


class _Replay:
    """A clock that plays back measured rounds: start at 0, end at the round's time."""

    __name__ = "fileio_sweep"

    def __init__(self, seconds: list[float]) -> None:
        self.readings: Iterator[float] = iter([value for duration in seconds for value in (0.0, duration)])

    def __call__(self) -> float:
        return next(self.readings)


def record_rounds(benchmark: Any, seconds: list[float]) -> None:
    """Give ``benchmark`` (pytest-benchmark's fixture) these rounds as its own: its clock is replaced by one
    that plays them back, and it times a function that does nothing once per round."""
    benchmark._timer = _Replay(seconds)  # noqa: SLF001
    benchmark.pedantic(lambda: None, rounds=len(seconds))


def saved_runs(config: pytest.Config) -> list[Path]:
    """The runs pytest-benchmark's storage holds, oldest first."""
    return [Path(path) for path in config._benchmarksession.storage.query()]  # type: ignore[attr-defined]  # noqa: SLF001


def compared_run(config: pytest.Config) -> dict[str, Any]:
    """With --benchmark-compare, the compared run's benchmarks by their parameter (its newest run, if several
    were loaded); empty without."""
    session = config._benchmarksession  # type: ignore[attr-defined]  # noqa: SLF001
    runs = list((session.compared_mapping or {}).values())
    return {bench["param"]: bench for bench in runs[-1].values()} if runs else {}
