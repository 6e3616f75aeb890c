"""Running tasks on pools: bounded submission, errors that reach the caller, progress from processes."""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable
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


class Channel:
    """Per-file progress from worker processes to the caller, and a stop flag from the caller to them."""

    def __init__(self) -> None:
        self._saved = CONTEXT.SimpleQueue()
        self._stop = CONTEXT.Event()

    def stop(self) -> None:
        self._stop.set()

    def drain(self, on_saved: OnSaved) -> None:
        """Pass every progress message received so far to ``on_saved``."""
        while not self._saved.empty():
            on_saved(*self._saved.get())


_worker_channel: Channel | None = None


def _init_worker(channel: Channel | None, owner: str) -> None:
    global _worker_channel
    _worker_channel = channel
    # Ctrl-C is the caller's to handle: it cancels the work and shuts the pool down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with(owner)


def report_saved(file_id: int, nbytes: int) -> None:
    """In a worker process: tell the caller one file is saved."""
    assert _worker_channel is not None, "report_saved needs a pool made with a Channel"
    _worker_channel._saved.put((file_id, nbytes))


def stop_requested() -> bool:
    """In a worker process: whether the caller asked running tasks to stop."""
    return _worker_channel is not None and _worker_channel._stop.is_set()


def process_pool(workers: int, channel: Channel | None = None) -> ProcessPoolExecutor:
    """A process pool with an explicit start method whose workers can talk to ``channel``."""
    return ProcessPoolExecutor(
        workers,
        mp_context=CONTEXT,
        initializer=_init_worker,
        initargs=(channel, owner_token()),
    )


def run_batches(
    save_batch: Callable[[Job, list[int]], None], job: Job, ids: list[int], workers: int, on_saved: OnSaved
) -> None:
    """Run ``save_batch(job, batch)`` on ``workers`` processes, one contiguous batch of ids each; the batches
    report every saved file through a :class:`Channel` and stop early when another batch fails."""
    channel = Channel()
    batches = split(ids, workers)
    with process_pool(workers, channel) as pool:
        run_tasks(
            pool,
            partial(save_batch, job),
            batches,
            limit=len(batches),
            on_result=lambda batch, result: None,
            ids_of=list,
            stop=channel.stop,
            poll=partial(channel.drain, on_saved),
        )


def split(ids: list[int], parts: int) -> list[list[int]]:
    """``ids`` in at most ``parts`` contiguous batches of near-equal size."""
    size, extra = divmod(len(ids), parts)
    batches, start = [], 0
    for index in range(parts):
        end = start + size + (index < extra)
        batches.append(ids[start:end])
        start = end
    return [batch for batch in batches if batch]
