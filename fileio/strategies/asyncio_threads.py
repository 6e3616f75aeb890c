"""asyncio_threads: asyncio where one ``asyncio.to_thread`` call saves a whole file (generate, open, write,
sync, close), on an executor of ``workers`` threads: one trip to a thread and back per file."""

from __future__ import annotations

from fileio.bounded import run_coroutines
from fileio.interrupts import run_interruptible
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy


async def _save_all(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(workers, "fileio-asyncio"))

    async def save_one(file_id: int) -> int:
        return await asyncio.to_thread(job.save, file_id)

    await run_coroutines(save_one, ids, workers, on_saved)


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Run ``workers`` coroutines on a fresh event loop whose default executor has ``workers`` threads."""
    run_interruptible(_save_all(job, ids, workers, on_saved))


STRATEGY = Strategy("asyncio_threads", "asyncio; one asyncio.to_thread call saves a whole file", _save)
