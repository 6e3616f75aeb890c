"""asyncio: asyncio with aiofiles; ``workers`` coroutines take ids from one shared iterator, which bounds
open files and data in memory to ``workers``. Every aiofiles call (open, write, flush, close) is a trip to a
thread and back: several per file.

asyncio and aiofiles are imported only when this strategy runs: importing asyncio costs every worker process
of the other strategies ~25 ms at start-up otherwise.
"""

from __future__ import annotations

import os
from contextlib import suppress
from functools import partial

from fileio.guards import run_interruptible
from fileio.job import Job, OnSaved, SaveError, Strategy
from fileio.tasks import run_coroutines
from fileio.writer import temporary_name


async def _write(path: str, data: bytes, sync: bool, mode: str = "wb") -> None:
    import aiofiles
    import aiofiles.os

    async with aiofiles.open(path, mode) as file:
        await file.write(data)
        if sync:
            await file.flush()
            await aiofiles.os.wrap(os.fsync)(file.fileno())


async def write_file(path: str, data: bytes, durability: str, owner: str) -> None:
    """The asynchronous twin of :func:`fileio.writer.write_file`."""
    import aiofiles.os

    if durability != "atomic":
        await _write(path, data, sync=durability == "fsync")
        return
    temp = temporary_name(path, owner)
    try:
        await _write(temp, data, sync=True, mode="xb")
        await aiofiles.os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise


async def _save_one(job: Job, file_id: int) -> int:
    data = job.generate(file_id)
    try:
        await write_file(job.file_path(file_id), data, job.durability, job.owner)
    except Exception as error:
        raise SaveError([file_id], error) from error
    return len(data)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Run ``workers`` coroutines on a fresh event loop."""
    import aiofiles  # noqa: F401  (fail here, before any file, when the dependency is missing)

    run_interruptible(run_coroutines(partial(_save_one, job), ids, workers, on_saved))


STRATEGY = Strategy(
    "asyncio",
    "asyncio with aiofiles; as many coroutines as workers, a thread hop per aiofiles call",
    _save,
    requires="aiofiles",
)
