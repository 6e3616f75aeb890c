"""Running tasks with a bound on how many are under way: on an executor (or anything else that submits tasks),
on threads or on coroutines, with errors that reach the caller and progress from every task."""

from __future__ import annotations

import collections
import queue
import threading
from collections.abc import Awaitable, Callable, Collection, Iterable, Iterator

from fileio.errors import SaveError
from fileio.interrupts import raise_if_interrupted
from fileio.job import OnSaved

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Executor, Future
    from typing import Any, Protocol, TypeVar

    class Cancellable(Protocol):
        """What :func:`run_bounded` needs of a submitted task (and of a key of a dict: hashable)."""

        def cancel(self) -> object: ...

    Item = TypeVar("Item")
    Task = TypeVar("Task", bound=Cancellable)

POLL_SECONDS = 0.05  # the longest a caller waits before it looks again: for a Ctrl-C, a stopped thread
WATCH_SECONDS = 0.005  # how often threads are weighed where the caller watches their pace (run_threads)


def run_bounded(
    submit: Callable[[Item], Task],
    wait: Callable[[Collection[Task]], Iterable[Task]],
    items: Iterable[Item],
    *,
    limit: int,
    on_done: Callable[[Item, Task], None],
    stop: Callable[[], None] | None = None,
) -> None:
    """Submit every item, ``submit(item)``, with at most ``limit`` of them under way at once.

    ``wait(pending)`` returns those of the pending tasks that have finished, waiting at most about
    ``POLL_SECONDS`` for one, and ``on_done(item, task)`` runs for each, in this thread. When it raises
    :class:`SaveError` (or the items do), nothing more is submitted and ``stop()`` ends the pending tasks
    early (without it, they are cancelled: those not started never start); once they have ended, a SaveError
    naming every failed id is raised. Any other exception, Ctrl-C included, stops and cancels them and
    propagates.
    """
    tasks = _Pending(submit, stop)
    remaining = iter(items)
    try:
        while True:
            tasks.submit_up_to(limit, remaining)
            if not tasks.pending:
                break
            raise_if_interrupted()
            for task in wait(tasks.pending):
                try:
                    on_done(tasks.pending.pop(task), task)
                except SaveError as error:
                    tasks.fail(error)
    except BaseException:
        if stop is not None:
            stop()
        raise
    finally:
        for task in tasks.pending:
            task.cancel()
    if tasks.failures:
        raise SaveError.merge(tasks.failures)


class _Pending:
    """:func:`run_bounded`'s tasks under way, by item, and the failures so far."""

    def __init__(self, submit: Callable[[Any], Any], stop: Callable[[], None] | None) -> None:
        self.submit, self.stop = submit, stop
        self.pending: dict[Any, Any] = {}  # a task (Task) -> its item
        self.failures: list[SaveError] = []

    def fail(self, error: SaveError) -> None:
        """Keep ``error``; at the first, end the pending tasks early (``stop``), or cancel them."""
        if not self.failures:
            if self.stop is not None:
                self.stop()
            else:
                for task in self.pending:
                    task.cancel()
        self.failures.append(error)

    def submit_up_to(self, limit: int, remaining: Iterator[Any]) -> None:
        """Submit items until ``limit`` are pending or none is left; none after a failure."""
        while not self.failures and len(self.pending) < limit:
            try:
                item = next(remaining)
            except StopIteration:
                return
            except SaveError as error:
                self.fail(error)
                return
            self.pending[self.submit(item)] = item


def run_tasks(
    executor: Executor,
    task: Callable[[Item], Any],
    items: Iterable[Item],
    *,
    limit: int,
    on_result: Callable[[Item, Any], None],
    ids_of: Callable[[Item], list[int]] = lambda item: [item],  # type: ignore[list-item]  # items are ids
) -> None:
    """Run ``task(item)`` for every item on ``executor`` with at most ``limit`` submitted at once, as
    :func:`run_bounded` does; ``on_result(item, result)`` runs in this thread as each finishes. A failure that
    is not a :class:`SaveError` fails the ids ``ids_of(item)``."""
    from concurrent.futures import FIRST_COMPLETED, wait  # ~10 ms: not for every import

    def finished(pending: Collection[Future[Any]]) -> set[Future[Any]]:
        return wait(pending, POLL_SECONDS, return_when=FIRST_COMPLETED).done

    def done(item: Item, future: Future[Any]) -> None:
        if future.cancelled():
            return
        try:
            result = future.result()
        except SaveError:
            raise
        except Exception as error:  # the pool itself broke, e.g. a worker process was killed
            raise SaveError(ids_of(item), error) from error
        on_result(item, result)  # what it raises (a progress callback's error) is the caller's, unchanged

    run_bounded(lambda item: executor.submit(task, item), finished, items, limit=limit, on_done=done)


async def run_coroutines(
    save: Callable[[int], Awaitable[int]], ids: list[int], workers: int, on_saved: OnSaved
) -> None:
    """Await ``save(file_id)`` for every id on ``workers`` coroutines that share one iterator of ids, which
    bounds open files and data in memory to ``workers``. On the first failure the other coroutines finish
    the file they are saving and take no other (cancelled, a write running in a thread would go on unseen,
    and its file's fate be unknown); then a :class:`SaveError` naming every failed id is raised. An error of
    ``on_saved`` (a progress callback's) cancels them and is raised as it is."""
    import asyncio  # here, not at the top: it would cost every worker process ~25 ms to start

    shared = iter(ids)
    failures: list[SaveError] = []
    callback_failed = False

    async def work() -> None:
        nonlocal callback_failed
        for file_id in shared:
            if failures:
                return
            try:
                nbytes = await save(file_id)
            except SaveError as error:
                failures.append(error)
                return
            # A coroutine whose file was saved in the loop turn where ``on_saved`` raised in another resumes
            # before the group cancels it: it must not call a callback that gave up (151 calls, not 150).
            if callback_failed:
                return
            try:
                on_saved(file_id, nbytes)
            except BaseException:
                callback_failed = True
                raise

    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(workers, len(ids))):
                group.create_task(work())
    except BaseExceptionGroup as group:
        raise group.exceptions[0]  # noqa: B904 (a progress callback's own error, with its cause)
    if failures:
        raise SaveError.merge(failures)


MAX_TASK_FILES = 64
TASKS_PER_WORKER = 8


def task_size(files: int, workers: int) -> int:
    """Files per task: enough tasks for the workers to share the load evenly, few enough to cost nothing."""
    return max(1, min(MAX_TASK_FILES, files // (workers * TASKS_PER_WORKER)))


def run_threads(
    save: Callable[[int], int],
    ids: list[int],
    workers: int,
    on_saved: OnSaved,
    keep_on: Callable[[], bool] | None = None,
) -> list[int]:
    """Run ``save(file_id)`` for every id on ``workers`` threads, each taking tasks of a few ids from a shared
    queue; ``on_saved`` runs in this thread. On the first failure the threads stop after their current file,
    and a :class:`SaveError` naming every failed id is raised; Ctrl-C stops them the same way. ``keep_on()``
    is asked as the threads start and every WATCH_SECONDS after: once it says no, they stop after their
    current file, and the ids they did not save are returned (none otherwise)."""
    crew = _Threads(save, chunks(ids, task_size(len(ids), workers)))
    threads = [threading.Thread(target=crew.work, name=f"fileio-{n}") for n in range(min(workers, len(ids)))]
    poll_s = POLL_SECONDS if keep_on is None else WATCH_SECONDS
    if keep_on is not None:
        keep_on()
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(poll_s)
                crew.drain(on_saved)
                raise_if_interrupted()
                if keep_on is not None and not crew.halt.is_set() and not keep_on():
                    crew.halt.set()
    finally:
        crew.stop.set()
        for thread in threads:
            thread.join()
    crew.drain(on_saved)
    if crew.failures:
        raise SaveError.merge(crew.failures)
    while not crew.tasks.empty():
        crew.unsaved.extend(crew.tasks.get_nowait())
    return crew.unsaved


class _Threads:
    """What :func:`run_threads`' threads share: the queue of tasks, the files saved and not yet reported,
    the failures, and two events: ``stop`` (a failure, Ctrl-C: after the current file) and ``halt``
    (``keep_on`` said no: the ids not saved are kept in ``unsaved``)."""

    def __init__(self, save: Callable[[int], int], tasks: list[list[int]]) -> None:
        self.save = save
        self.tasks: queue.SimpleQueue[list[int]] = queue.SimpleQueue()
        for task in tasks:
            self.tasks.put(task)
        self.saved: collections.deque[tuple[int, int]] = collections.deque()
        self.failures: list[SaveError] = []
        self.unsaved: list[int] = []  # of the tasks the threads had begun when told to stop
        self.stop, self.halt = threading.Event(), threading.Event()

    def work(self) -> None:
        """A thread's life: tasks from the queue until none is left, or it is told to stop."""
        while not self.stop.is_set() and not self.halt.is_set():
            try:
                task = self.tasks.get_nowait()
            except queue.Empty:
                return
            for index, file_id in enumerate(task):
                if self.stop.is_set():
                    return
                if self.halt.is_set():
                    self.unsaved.extend(task[index:])
                    return
                try:
                    self.saved.append((file_id, self.save(file_id)))
                except Exception as error:
                    self.failures.append(
                        error if isinstance(error, SaveError) else SaveError([file_id], error)
                    )
                    self.stop.set()

    def drain(self, on_saved: OnSaved) -> None:
        """Report the files saved since the last drain, in this thread."""
        while self.saved:
            on_saved(*self.saved.popleft())


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
