"""Shared by tests/ and bench/: one parameter per registered strategy, skipped when it cannot run here."""

from __future__ import annotations

import pytest

from fileio.strategies import STRATEGIES, unavailable_reason


def strategy_params(names=tuple(STRATEGIES)) -> list:
    """A ``pytest.param`` per strategy name, skip-marked with the reason when its dependency is missing."""
    return [
        pytest.param(name, id=name, marks=pytest.mark.skipif(bool(reason), reason=reason or ""))
        for name in names
        for reason in [unavailable_reason(name)]
    ]


@pytest.fixture(params=strategy_params())
def strategy_name(request: pytest.FixtureRequest) -> str:
    """Each registered strategy's name in turn."""
    return request.param


@pytest.fixture
def save(strategy_name: str):
    """Each registered strategy's save function in turn."""
    return STRATEGIES[strategy_name]
