"""The worker processes ``auto`` keeps between saves, as joblib's reusable executor does: started by a save,
idle until the next, each exiting on its own after ``keep_idle_s`` without one. They stop after a failed
save, with the caller (:func:`fileio.worker.exit_with`) and at its exit; a forked child forgets them."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fileio.saver import WarmPool

_kept: WarmPool | None = None
_lock = threading.Lock()  # one save at a time uses them: another starts workers of its own


def running(workers: int) -> bool:
    """Whether ``workers`` kept workers are up, so that a save needs not start any."""
    return _kept is not None and _kept.workers == workers and _kept.running


@contextmanager
def taken(workers: int, idle_s: float) -> Iterator[WarmPool | None]:
    """The kept pool of ``workers`` workers for one save (made if need be); None where another save holds
    it or ``idle_s`` is 0."""
    global _kept
    if idle_s <= 0 or not _lock.acquire(blocking=False):
        yield None
        return
    try:
        if _kept is None or _kept.workers != workers or _kept.idle_s != idle_s:
            close()
            _kept = WarmPool(workers, idle_s)
        yield _kept
    finally:
        _lock.release()


@atexit.register
def close() -> None:
    """Stop the kept workers now."""
    global _kept
    pool, _kept = _kept, None
    if pool is not None:
        pool.close()


def close_unless_taken() -> None:
    """Stop the kept workers now, unless another save (another thread) is using them."""
    if _lock.acquire(blocking=False):
        try:
            close()
        finally:
            _lock.release()


def _forget() -> None:
    """In a forked child: the parent's workers are not its own."""
    global _kept, _lock
    _kept, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget)
