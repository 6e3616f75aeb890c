"""Running tasks on process pools, threads and coroutines: bounded submission, errors that reach the caller,
progress from every worker."""

from __future__ import annotations

import collections
import multiprocessing
import queue
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, CancelledError, Executor, Future, ProcessPoolExecutor, wait
from functools import partial
from typing import Any, TypeVar

from fileio.guards import exit_with
from fileio.job import Job, OnSaved, SaveError
from fileio.writer import owner_token

# Explicit: Python 3.14 changes the Linux default from fork, which is unsafe once the caller has threads.
START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
CONTEXT = multiprocessing.get_context(START_METHOD)
if START_METHOD == "forkserver":
    # Workers fork from a server that has imported fileio already: ~40 ms less start-up for each of them.
    CONTEXT.set_forkserver_preload(["__main__", "fileio"])
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


class Channel:
    """Per-file progress from worker processes to the caller, and a stop flag from the caller to them."""

    def __init__(self) -> None:
        self._saved = CONTEXT.SimpleQueue()
        self._stop = CONTEXT.Event()

    def stop(self) -> None:
        self._stop.set()

    def drain(self, on_saved: OnSaved) -> None:
        """Pass every file reported so far to ``on_saved``."""
        while not self._saved.empty():
            for file_id, nbytes in self._saved.get():
                on_saved(file_id, nbytes)


_worker_channel: Channel | None = None
# In a worker process: files saved but not yet reported. Reports go in bundles, a message per file would cost
# as much as a small file's write; a bundle leaves when it is this full or this old, and when a batch ends.
_unreported: list[tuple[int, int]] = []
_REPORT_FILES = 64
_REPORT_SECONDS = 0.02
_last_report = 0.0


def _init_worker(channel: Channel | None, owner: str) -> None:
    global _worker_channel
    _worker_channel = channel
    # Ctrl-C is the caller's to handle: it cancels the work and shuts the pool down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with(owner)


def report_saved(file_id: int, nbytes: int) -> None:
    """In a worker process: tell the caller one file is saved (soon: reports leave in bundles)."""
    _unreported.append((file_id, nbytes))
    if len(_unreported) >= _REPORT_FILES or time.monotonic() - _last_report >= _REPORT_SECONDS:
        _send_reports()


def _send_reports() -> None:
    global _last_report
    assert _worker_channel is not None, "report_saved needs a pool made with a Channel"
    if _unreported:
        _worker_channel._saved.put(_unreported[:])
        _unreported.clear()
    _last_report = time.monotonic()


def _run_batch(save_batch: Callable[[Job, list[int]], None], job: Job, batch: list[int]) -> None:
    try:
        with job.opened() as opened:  # the directory's descriptors, once per batch
            save_batch(opened, batch)
    finally:  # what was saved before a failure is reported too
        _send_reports()


def save_each(job: Job, batch: list[int]) -> None:
    """In a worker process: save a batch one file after another, reporting each, until told to stop."""
    for file_id in batch:
        if stop_requested():
            return
        report_saved(file_id, job.save(file_id))


def stop_requested() -> bool:
    """In a worker process: whether the caller asked running tasks to stop."""
    return _worker_channel is not None and _worker_channel._stop.is_set()


class WorkerPool(ProcessPoolExecutor):
    """A process pool that cannot hang on a worker killed mid-message.

    A worker killed while sending a result leaves half a message in the result pipe, and the pool's manager
    thread waits for the rest for ever (a large result, such as a file's bytes, goes in two writes). A
    watchdog thread notices a dead worker that the pool has not reported within ``GRACE_SECONDS``, kills the
    other workers and closes the parent's end of the pipe: the manager reads EOF and breaks the pool, and
    every waiting future fails with BrokenProcessPool as for any killed worker.
    """

    GRACE_SECONDS = 1.0

    def __init__(self, workers: int, channel: Channel | None) -> None:
        super().__init__(
            workers, mp_context=CONTEXT, initializer=_init_worker, initargs=(channel, owner_token())
        )
        self.channel = channel
        self._closing = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="fileio-pool-watchdog", daemon=True)
        self._watchdog.start()

    def _workers(self) -> list[multiprocessing.process.BaseProcess]:
        return list((getattr(self, "_processes", None) or {}).values())

    def _watch(self) -> None:
        dead_since: float | None = None
        while not self._closing.wait(POLL_SECONDS):
            processes = self._workers()
            if self.broken or not any(p.exitcode is not None for p in processes):
                dead_since = None
                continue
            dead_since = dead_since or time.monotonic()
            if time.monotonic() - dead_since >= self.GRACE_SECONDS:
                for process in processes:
                    process.kill()
                results = getattr(self, "_result_queue", None)
                if results is not None:
                    results._writer.close()
                return

    @property
    def broken(self) -> bool:
        """Whether a worker died and the pool can take no more work."""
        return bool(getattr(self, "_broken", False))

    @property
    def lost_a_worker(self) -> bool:
        """Whether a worker has died, told at once: the pool itself notices a moment later and breaks."""
        return self.broken or any(process.exitcode is not None for process in self._workers())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closing.set()
        super().shutdown(wait, cancel_futures=cancel_futures)


def process_pool(workers: int, channel: Channel | None = None) -> WorkerPool:
    """A process pool with an explicit start method whose workers can talk to ``channel``."""
    return WorkerPool(workers, channel)


def run_batches(
    save_batch: Callable[[Job, list[int]], None],
    job: Job,
    ids: list[int],
    workers: int,
    on_saved: OnSaved,
    batch_size: int | None = None,
    pool: WorkerPool | None = None,
) -> None:
    """Run ``save_batch(job, batch)`` on ``workers`` processes, of ``pool`` (made with a Channel) or of a new
    one: one contiguous batch of ids each, or batches of ``batch_size`` handed out as workers free up (at most
    two each queued). The batches report every saved file through the pool's Channel and stop early when
    another batch fails."""
    if pool is None:
        with process_pool(workers, Channel()) as new_pool:
            run_batches(save_batch, job, ids, workers, on_saved, batch_size, new_pool)
        return
    assert pool.channel is not None, "run_batches needs a pool made with a Channel"
    batches = split(ids, workers) if batch_size is None else chunks(ids, batch_size)
    run_tasks(
        pool,
        partial(_run_batch, save_batch, job),
        batches,
        limit=len(batches) if batch_size is None else 2 * workers,
        on_result=lambda batch, result: None,
        ids_of=list,
        stop=pool.channel.stop,
        poll=partial(pool.channel.drain, on_saved),
    )


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
