"""The save strategies, by name. Each is ``save(directory, ids, *, workers, workload, durability, progress)``.

- sequential: one file after another
- threads: a thread pool; one task generates and writes one file
- processes: a process pool; one task generates and writes one file
- process_batches: ids split into one batch per worker process
- processes_threads: batches per process; each process writes through its own small thread pool
- asyncio: asyncio with aiofiles; concurrency bounded by ``workers``
- pipeline: worker processes generate, writer threads save; bounded data in flight
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from fileio.job import SaveReport
from fileio.strategies import (
    asyncio_aiofiles,
    pipeline,
    process_batches,
    processes,
    processes_threads,
    sequential,
    threads,
)

STRATEGIES: dict[str, Callable[..., SaveReport]] = {
    "sequential": sequential.save,
    "threads": threads.save,
    "processes": processes.save,
    "process_batches": process_batches.save,
    "processes_threads": processes_threads.save,
    "asyncio": asyncio_aiofiles.save,
    "pipeline": pipeline.save,
}

# Optional dependencies, imported only by the strategy that needs them.
REQUIRES = {"asyncio": "aiofiles"}


def unavailable_reason(name: str) -> str | None:
    """Why strategy ``name`` cannot run here (a dependency is missing), or None when it can."""
    module = REQUIRES.get(name)
    if module is None or importlib.util.find_spec(module) is not None:
        return None
    return f"strategy {name!r} needs {module}: pip install {module}"


def get_strategy(name: str) -> Callable[..., SaveReport]:
    """The strategy registered as ``name``; ValueError names an unknown one."""
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}") from None
