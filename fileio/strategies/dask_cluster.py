"""dask: batches of ids saved by the worker processes of a dask.distributed cluster.

By default the save starts a ``LocalCluster`` of ``workers`` processes and closes it afterwards; given a
scheduler address (the ``FILEIO_DASK_SCHEDULER`` environment variable, or :func:`with_scheduler`) it uses that
running cluster and leaves it running. Every worker must see the target directory, so on a cluster of several
machines it must be on shared storage: each worker checks that it can see it before any work is sent.

Dask costs roughly a millisecond per task, so a task is a batch of files: ``BATCHES_PER_WORKER`` batches per
worker, whatever the number of files, and at most two per worker are submitted at once. The workers generate
and write the files themselves: no file data passes through the client or the scheduler. Each saved file is
announced as a small event, which the caller receives as per-file progress; a batch's result lists what it
saved and how it failed, if it did. On the first failure, or Ctrl-C, every worker is told to stop this save's
batches before their next file and waits until they have; a LocalCluster lets no task retry on another worker,
so a killed worker fails its batches at once. dask and distributed are imported only when the strategy runs.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from fileio.errors import SaveError
from fileio.job import Job, OnSaved
from fileio.strategy import Strategy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any

    from distributed import Client, Future

SCHEDULER_VARIABLE = "FILEIO_DASK_SCHEDULER"
BATCHES_PER_WORKER = 4
IN_FLIGHT_PER_WORKER = 2
TOPIC = "fileio-saved"  # the workers' per-file events: [run, file id, bytes]
# A LocalCluster costs its caller open files: ~20 for the scheduler and client, ~9 per worker (pipes to the
# worker process, sockets to the scheduler). Under a low open-file limit it starts fewer workers.
FILES_FOR_CLUSTER, FILES_PER_WORKER = 32, 10
DESCRIPTION = "batches saved by the worker processes of a dask.distributed cluster, local or given"
REQUIRES, INSTALL = "distributed", "pip install 'fileio[dask]'"

Saved = list[tuple[int, int]]  # (file id, bytes) of each file a batch saved

# In a worker process: the saves told to stop, and the batches running now, as (save, thread).
_stopped: set[str] = set()
_running: set[tuple[str, int]] = set()


def save_batch(job: Job, run: str, batch: list[int]) -> tuple[Saved, SaveError | None]:
    """On a worker: save a batch one file after another, announcing each saved file, until one fails or the
    save ``run`` is stopped. Returns what it saved and the failure, if any."""
    from distributed import get_worker

    worker = get_worker()
    me = (run, threading.get_ident())
    _running.add(me)
    saved: Saved = []
    try:
        with job.opened(batch) as opened:  # the directory's descriptors, once per batch
            for file_id in batch:
                if run in _stopped:
                    break
                try:
                    nbytes = opened.save(file_id)
                except SaveError as error:
                    return saved, error
                worker.log_event(TOPIC, [run, file_id, nbytes])
                saved.append((file_id, nbytes))
    finally:
        _running.discard(me)
    return saved, None


async def _stop(run: str) -> None:
    """On a worker: make the batches of save ``run`` stop before their next file, and wait until they have."""
    import asyncio  # here: importing it costs every user of fileio ~10 ms otherwise

    _stopped.add(run)
    while any(running == run for running, _ in _running):
        await asyncio.sleep(0.005)


def sees(directory: str) -> bool:
    """On a worker: whether it can see ``directory``."""
    return os.path.isdir(directory)


def check_visible(client: Client, directory: str | os.PathLike[str]) -> None:
    """Raise ValueError unless every worker of the cluster sees ``directory`` (and there is a worker)."""
    seen = client.run(sees, os.fspath(directory))
    if not seen:
        raise ValueError(f"the dask cluster at {client.scheduler_info()['address']} has no workers")
    blind = sorted(address for address, visible in seen.items() if not visible)
    if blind:
        raise ValueError(
            f"directory {directory} is not visible to dask worker(s) {', '.join(blind)}: the target must be "
            "on storage every worker can see (shared storage)"
        )


def dask_setup(worker: object) -> None:
    """Preloaded by the LocalCluster's worker processes: Ctrl-C is the caller's to handle (it stops the
    batches and closes the cluster), and would make each worker print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local_workers(workers: int) -> int:
    """How many worker processes a LocalCluster gets: ``workers``, fewer where the open-file limit is low."""
    import resource

    limit, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if limit == resource.RLIM_INFINITY:
        return workers
    spare = limit - len(os.listdir("/dev/fd")) - FILES_FOR_CLUSTER
    return max(1, min(workers, spare // FILES_PER_WORKER))


@contextmanager
def _client(address: str | None, workers: int) -> Iterator[Client]:
    """A client of the cluster at ``address``, left running; or, without one, of a LocalCluster of
    ``workers`` processes started now and closed afterwards."""
    import logging

    from distributed import Client, LocalCluster

    if address is not None:
        with Client(address, set_as_default=False) as client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=_local_workers(workers),
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,  # failures reach the caller as SaveError; a killed worker logs noise
        scheduler_kwargs={
            "allowed_failures": 0,  # a killed worker's batches fail instead of retrying
            "dashboard_address": "127.0.0.1:0",  # its HTTP server (no dashboard) on a free port, not 8787
        },
        preload=[__name__],  # dask_setup
    )
    scheduler_log = logging.getLogger("distributed.scheduler")
    scheduler_log.addFilter(_drop_sends_to_a_gone_client)
    try:
        with cluster, Client(cluster, set_as_default=False) as client:
            yield client
    finally:
        scheduler_log.removeFilter(_drop_sends_to_a_gone_client)


def _drop_sends_to_a_gone_client(record: logging.LogRecord) -> bool:
    """Leaves out the LocalCluster scheduler's report (CRITICAL, with a traceback) that it could not forward
    an event to a client that has closed: after a Ctrl-C, the last progress events of stopped batches can
    reach it as our client leaves, and the caller should see one line, "interrupted"."""
    return record.msg != "Closed comm %r while trying to write %s"


def _batches(ids: list[int], workers: int) -> list[list[int]]:
    """``ids`` in contiguous batches, ``BATCHES_PER_WORKER`` per worker: few tasks, however many files."""
    size = math.ceil(len(ids) / (BATCHES_PER_WORKER * workers))
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def _run(client: Client, job: Job, batches: list[list[int]], workers: int, on_saved: OnSaved) -> None:
    """Save every batch on the cluster with at most ``IN_FLIGHT_PER_WORKER x workers`` submitted at once,
    passing each saved file to ``on_saved`` as its event or its batch's result arrives. On the first failure
    nothing more is submitted and running batches stop; once all have ended, SaveError names every failed
    id."""
    from fileio.bounded import run_bounded

    run = _Run(client, job, on_saved)
    client.subscribe_topic(TOPIC, lambda event: run.inbox.put(event[1]))
    try:
        run_bounded(
            run.submit, run.finished, batches, limit=IN_FLIGHT_PER_WORKER * workers, on_done=run.done,
            stop=run.stop,
        )  # fmt: skip
    finally:
        client.unsubscribe_topic(TOPIC)


class _Run:
    """One save's batches on the cluster: what :func:`fileio.bounded.run_bounded` calls, and the files
    reported so far (a file is announced by its event and again in its batch's result)."""

    def __init__(self, client: Client, job: Job, on_saved: OnSaved) -> None:
        import queue
        import uuid

        self.client, self.job, self.on_saved = client, job, on_saved
        self.id = uuid.uuid4().hex
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()  # events' messages and finished futures
        self.reported: set[int] = set()

    def report(self, file_id: int, nbytes: int) -> None:
        if file_id not in self.reported:
            self.reported.add(file_id)
            self.on_saved(file_id, nbytes)

    def submit(self, batch: list[int]) -> Future:
        future = self.client.submit(save_batch, self.job, self.id, batch, pure=False)
        future.add_done_callback(self.inbox.put)
        return future

    def finished(self, pending: object) -> list[Future]:
        """Report the workers' events as they arrive, until a batch finishes (that batch) or a poll ends."""
        import queue

        from distributed import Future

        from fileio.bounded import POLL_SECONDS

        while True:
            try:
                message = self.inbox.get(timeout=POLL_SECONDS)
            except queue.Empty:
                return []
            if isinstance(message, Future):
                return [message]
            if message[0] == self.id:
                self.report(message[1], message[2])

    def done(self, batch: list[int], future: Future) -> None:
        from distributed import KilledWorker

        if future.status == "finished" and self.reported.issuperset(batch):
            return  # every file announced: its result would only repeat them (and cost a round trip)
        unsaved = [file_id for file_id in batch if file_id not in self.reported]
        try:
            saved, error = future.result()
        except KilledWorker as lost:
            raise SaveError(unsaved, RuntimeError(f"a dask worker was terminated abruptly: {lost}")) from lost
        except Exception as broken:  # e.g. the task could not be sent to or run on a worker
            raise SaveError(unsaved, broken) from broken
        for file_id, nbytes in saved:
            self.report(file_id, nbytes)
        if error is not None:
            raise error

    def stop(self) -> None:
        self.client.run(_stop, self.id, on_error="ignore")


def _save_on(address: str | None, job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Save ``ids`` on the cluster at ``address``, or on a LocalCluster when it is None. Where the client
    itself fails (a socket's close, a connection), SaveError names the ids not saved by then."""
    if not ids:
        return
    batches = _batches(ids, workers)
    saved: set[int] = set()

    def note(file_id: int, nbytes: int) -> None:
        saved.add(file_id)
        on_saved(file_id, nbytes)

    try:
        with _client(address, min(workers, len(batches))) as client:
            check_visible(client, job.directory)
            _run(client, job, batches, workers, note)
    except OSError as error:
        unsaved = [file_id for file_id in ids if file_id not in saved]
        if unsaved:  # else every file was saved, and it was the client's own leaving that failed
            raise SaveError(unsaved, error) from error


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    """Use the cluster ``FILEIO_DASK_SCHEDULER`` names, read now, or start a LocalCluster."""
    _save_on(os.environ.get(SCHEDULER_VARIABLE) or None, job, ids, workers, on_saved)


def with_scheduler(address: str) -> Strategy:
    """The ``dask`` strategy on the running cluster whose scheduler is at ``address`` (``tcp://host:port``)."""
    return Strategy("dask", DESCRIPTION, partial(_save_on, address), requires=REQUIRES, install=INSTALL)


STRATEGY = Strategy("dask", DESCRIPTION, _save, requires=REQUIRES, install=INSTALL, starts_processes=True)
