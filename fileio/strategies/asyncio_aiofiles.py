"""asyncio: asyncio with aiofiles; ``workers`` coroutines take ids from one shared iterator, which bounds
open files and data in memory to ``workers``.

asyncio and aiofiles are imported only when this strategy runs: importing asyncio costs every worker process
of the other strategies ~25 ms at start-up otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import suppress

from fileio.guards import run_interruptible
from fileio.job import Job, OnSaved, SaveError, Strategy
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


async def _worker(job: Job, ids: Iterator[int], on_saved: OnSaved) -> None:
    for file_id in ids:
        data = job.generate(file_id)
        try:
            await write_file(str(job.path(file_id)), data, job.durability, job.owner)
        except Exception as error:
            raise SaveError([file_id], error) from error
        on_saved(file_id, len(data))


async def _save_all(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    import asyncio

    shared = iter(ids)
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(workers, len(ids))):
                group.create_task(_worker(job, shared, on_saved))
    except* SaveError as failed:
        raise SaveError.merge([error for error in failed.exceptions if isinstance(error, SaveError)])  # noqa: B904 (merge sets the cause)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Run the coroutines on a fresh event loop."""
    import aiofiles  # noqa: F401  (fail here, before any file, when the dependency is missing)

    run_interruptible(_save_all(job, ids, workers, on_saved))


STRATEGY = Strategy(
    "asyncio", "asyncio with aiofiles; `workers` coroutines bound concurrency", _save, requires="aiofiles"
)
