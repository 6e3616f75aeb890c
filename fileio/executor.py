"""A ``concurrent.futures`` process pool whose results come back to the caller, guarded against a worker
killed mid-message; its workers start as :mod:`fileio.pools` decides and die with the caller."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor

from fileio.bounded import POLL_SECONDS
from fileio.costs import start_method
from fileio.guards import exit_with
from fileio.pools import context
from fileio.writer import owner_token


def _init_worker(owner: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's: it cancels and shuts down
    exit_with(owner)


class WorkerPool(ProcessPoolExecutor):
    """A process pool that cannot hang on a worker killed mid-message.

    A worker killed while sending a result leaves half a message in the result pipe, and the pool's manager
    thread waits for the rest for ever (a large result, such as a file's bytes, goes in two writes). A
    watchdog thread notices a dead worker that the pool has not reported within ``GRACE_SECONDS``, kills the
    other workers and closes the parent's end of the pipe: the manager reads EOF and breaks the pool, and
    every waiting future fails with BrokenProcessPool as for any killed worker.
    """

    GRACE_SECONDS = 1.0

    def __init__(self, workers: int) -> None:
        super().__init__(
            workers, mp_context=context(start_method()), initializer=_init_worker, initargs=(owner_token(),)
        )
        # The first task makes the pool fork every worker, now, while this thread may be the only one.
        self.submit(os.getpid).result()
        self._closing = threading.Event()
        self._watchdog = threading.Thread(target=self._watch, name="fileio-pool-watchdog", daemon=True)
        self._watchdog.start()

    # ProcessPoolExecutor offers no public way to see its processes, nor to break its result pipe: these are
    # its private _processes, _broken and _result_queue, read with getattr so that a change shows as no-ops.
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
