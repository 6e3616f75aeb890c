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

from fileio.bounded import run_coroutines
from fileio.errors import SaveError
from fileio.interrupts import run_interruptible
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy
from fileio.writer import MODE, open_in_place, replace_checked, temporary_name


def _opener(dir_fd: int, fresh: bool, name: str, flags: int) -> int:
    """open()'s flags, relative to ``dir_fd`` and never through a symbolic link (as fileio.writer opens); a
    final name ("wb") is opened as fileio.writer opens it in place."""
    if flags & os.O_TRUNC:
        return open_in_place(name, dir_fd, fresh)
    return os.open(name, flags | os.O_NOFOLLOW, MODE, dir_fd=dir_fd)


async def _write(
    dir_fd: int, name: str, data: bytes, sync: bool, mode: str = "wb", fresh: bool = False
) -> None:
    import aiofiles
    import aiofiles.os

    async with aiofiles.open(name, mode, opener=partial(_opener, dir_fd, fresh)) as file:
        await file.write(data)
        if sync:
            await file.flush()
            await aiofiles.os.wrap(os.fsync)(file.fileno())


async def write_file(
    dir_fd: int, name: str, data: bytes, durability: str, owner: str, fresh: bool = False
) -> None:
    """The asynchronous twin of :func:`fileio.writer.write_file`."""
    import aiofiles.os

    if durability != "atomic":
        await _write(dir_fd, name, data, sync=durability == "fsync", fresh=fresh)
        return
    temp = temporary_name(name, owner)
    try:
        await _write(dir_fd, temp, data, sync=True, mode="xb")
        await aiofiles.os.wrap(replace_checked)(temp, name, dir_fd, fresh)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp, dir_fd=dir_fd)
        raise


async def _save_one(job: Job, file_id: int) -> int:
    data = job.generate(file_id)
    directories, name = job.dirs, job.workload.file_name(file_id)
    try:
        dir_fd, leaf = directories.acquire(name)
    except Exception as error:
        raise SaveError([file_id], error) from error
    try:
        await write_file(dir_fd, leaf, data, job.durability, job.owner, job.is_fresh(name))
    except Exception as error:
        directories.release(name)
        raise SaveError([file_id], directories.named(error, name)) from error
    # Released only here: a cancelled write may still run in its thread, and keeps the directory open (until
    # the save ends) for it.
    directories.release(name)
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
