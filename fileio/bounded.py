"""Running tasks with a bound on how many are under way: on an executor, on threads or on coroutines, with
errors that reach the caller and progress from every task."""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from fileio.job import OnSaved, SaveError

if TYPE_CHECKING:
    from concurrent.futures import Executor, Future

POLL_SECONDS = 0.05

Item = TypeVar("Item")


def run_tasks(
    executor: Executor,
    task: Callable[[Item], Any],
    items: Iterable[Item],
    *,
    limit: int,
    on_result: Callable[[Item, Any], None],
    ids_of: Callable[[Item], list[int]] = lambda item: [item],  # type: ignore[list-item]  # items are ids
    stop: Callable[[], None] | None = None,
    poll: Callable[[], None] | None = None,
) -> None:
    """Run ``task(item)`` for every item with at most ``limit`` submitted at once.

    ``on_result(item, result)`` runs in this thread as each finishes. On the first failure nothing more is
    submitted, queued tasks are cancelled, ``stop()`` asks running ones to end early, and once they have ended
    a :class:`SaveError` naming every failed id is raised. ``poll()`` runs every few milliseconds meanwhile.
    """
    from concurrent.futures import FIRST_COMPLETED, CancelledError, wait  # ~10 ms: not for every import

    pending: dict[Future[Any], Item] = {}
    failures: list[SaveError] = []
    remaining = iter(items)

    def fail(error: SaveError) -> None:
        if not failures:
            for future in pending:
                future.cancel()
            if stop is not None:
                stop()
        failures.append(error)

    try:
        while True:
            while not failures and len(pending) < limit:
                try:
                    item = next(remaining)
                except StopIteration:
                    break
                except SaveError as error:
                    fail(error)
                    break
                pending[executor.submit(task, item)] = item
            if not pending:
                break
            done, _ = wait(pending, timeout=POLL_SECONDS if poll else None, return_when=FIRST_COMPLETED)
            if poll is not None:
                poll()
            for future in done:
                item = pending.pop(future)
                try:
                    on_result(item, future.result())
                except CancelledError:
                    pass
                except SaveError as error:
                    fail(error)
                except Exception as error:  # the pool itself broke, e.g. a worker process was killed
                    fail(SaveError(ids_of(item), error))
    except BaseException:
        if stop is not None:
            stop()
        raise
    finally:
        for future in pending:
            future.cancel()
    if poll is not None:
        poll()
    if failures:
        raise SaveError.merge(failures)


async def run_coroutines(
    save: Callable[[int], Awaitable[int]], ids: list[int], workers: int, on_saved: OnSaved
) -> None:
    """Await ``save(file_id)`` for every id on ``workers`` coroutines that share one iterator of ids, which
    bounds open files and data in memory to ``workers``. On the first failure the other coroutines are
    cancelled and a :class:`SaveError` naming every failed id is raised."""
    import asyncio  # here, not at the top: it would cost every worker process ~25 ms to start

    shared = iter(ids)

    async def work() -> None:
        for file_id in shared:
            on_saved(file_id, await save(file_id))

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(workers, len(ids))):
                group.create_task(work())
    except* SaveError as failed:
        errors = [error for error in failed.exceptions if isinstance(error, SaveError)]
        raise SaveError.merge(errors)  # noqa: B904 (merge sets the cause)


MAX_TASK_FILES = 64
TASKS_PER_WORKER = 8


def task_size(files: int, workers: int) -> int:
    """Files per task: enough tasks for the workers to share the load evenly, few enough to cost nothing."""
    return max(1, min(MAX_TASK_FILES, files // (workers * TASKS_PER_WORKER)))


def run_threads(save: Callable[[int], int], ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Run ``save(file_id)`` for every id on ``workers`` threads, each taking tasks of a few ids from a shared
    queue; ``on_saved`` runs in this thread. On the first failure the threads stop after their current file,
    and a :class:`SaveError` naming every failed id is raised; Ctrl-C stops them the same way."""
    tasks: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
    for task in chunks(ids, task_size(len(ids), workers)):
        tasks.put(task)
    saved: collections.deque[tuple[int, int]] = collections.deque()
    failures: list[SaveError] = []
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                task = tasks.get_nowait()
            except queue.Empty:
                return
            for file_id in task:
                if stop.is_set():
                    return
                try:
                    saved.append((file_id, save(file_id)))
                except Exception as error:
                    failures.append(error if isinstance(error, SaveError) else SaveError([file_id], error))
                    stop.set()

    def drain() -> None:
        while saved:
            on_saved(*saved.popleft())

    threads = [threading.Thread(target=work, name=f"fileio-{n}") for n in range(min(workers, len(ids)))]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(POLL_SECONDS)
                drain()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    drain()
    if failures:
        raise SaveError.merge(failures)


def chunks(ids: list[int], size: int) -> list[list[int]]:
    """``ids`` in contiguous chunks of ``size`` (the last may be shorter)."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def split(ids: list[int], parts: int) -> list[list[int]]:
    """``ids`` in at most ``parts`` contiguous batches of near-equal size."""
    size, extra = divmod(len(ids), parts)
    batches, start = [], 0
    for index in range(parts):
        end = start + size + (index < extra)
        batches.append(ids[start:end])
        start = end
    return [batch for batch in batches if batch]
