"""The save strategies, by name: each a :class:`fileio.Strategy` with the same signature and a one-line
description (``fileio strategies`` lists them)."""

from __future__ import annotations

from fileio import auto
from fileio.strategies import (
    asyncio_aiofiles,
    asyncio_threads,
    dask_cluster,
    io_uring,
    pipeline,
    process_batches,
    processes,
    processes_threads,
    sequential,
    threads,
)
from fileio.strategy import Strategy

STRATEGIES: dict[str, Strategy] = {
    module.STRATEGY.name: module.STRATEGY
    for module in (
        sequential,
        threads,
        processes,
        process_batches,
        processes_threads,
        asyncio_aiofiles,
        asyncio_threads,
        io_uring,
        pipeline,
        dask_cluster,
        auto,
    )
}


def get_strategy(name: str) -> Strategy:
    """The strategy registered as ``name``; ValueError names an unknown one."""
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}") from None
