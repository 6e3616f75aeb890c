"""Ctrl-C during a save: the first one stops it at a point where nothing is half done, and later ones are
ignored until its clean-up has run to its end."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

_deferred = 0  # how many saves on the main thread take Ctrl-C at their safe points (see interrupts_once)
_pending = False  # a Ctrl-C came during such a save and has not been raised yet


def _raise_once(signum: int, frame: FrameType | None) -> None:
    global _pending
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _deferred:
        _pending = True
        return
    raise KeyboardInterrupt


def interrupt_once() -> None:
    """From now on, the first Ctrl-C (SIGINT) raises KeyboardInterrupt and later ones are ignored, so that the
    clean-up the first one starts runs to its end. For a program that exits after an interrupt."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) not in (
        signal.SIG_IGN,
        None,
    ):
        signal.signal(signal.SIGINT, _raise_once)


def _take_interrupt() -> bool:
    """Whether a Ctrl-C came during this save (on the main thread) and is still to be acted on; now it is."""
    global _pending
    if _pending and threading.current_thread() is threading.main_thread():
        _pending = False
        return True
    return False


def raise_if_interrupted() -> None:
    """Raise KeyboardInterrupt for a Ctrl-C that came during this save: called by the save's loops on the
    caller's thread, at points where nothing is half done."""
    if _take_interrupt():
        raise KeyboardInterrupt


@contextmanager
def interrupts_once() -> Iterator[None]:
    """A save on the main thread: the first Ctrl-C stops it and later ones are ignored, as with
    :func:`interrupt_once` (installed for the save where Python's own handler is in place).

    The interrupt is raised by :func:`raise_if_interrupted`, at the save's next safe point, never where the
    signal happens to land: raised inside ``concurrent.futures`` or ``threading`` while they hold a lock, it
    left the lock held, and the writer threads that needed it, and the caller shutting them down, waited
    for ever."""
    global _deferred
    on_main_thread = threading.current_thread() is threading.main_thread()
    handler = signal.getsignal(signal.SIGINT) if on_main_thread else None
    installed = handler is signal.default_int_handler
    if not installed and handler is not _raise_once:  # not ours to handle
        yield
        return
    if installed:
        signal.signal(signal.SIGINT, _raise_once)
    _deferred += 1
    try:
        yield
    finally:
        _deferred -= 1
        if installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if not _deferred:
            raise_if_interrupted()  # one that came after the save's last look


def run_interruptible(coroutine: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` for a save: the first Ctrl-C cancels the coroutine, whose tasks clean up, and then
    raises KeyboardInterrupt; later ones are ignored until then, as with :func:`interrupts_once`."""
    import asyncio

    runner = asyncio.Runner()
    try:
        runner.run(_cancelled_by_ctrl_c(coroutine))
    finally:
        # Closing waits for the loop's threads (a cancelled write runs to its end first), then closes the
        # loop's own wake-up sockets: a failure of that close loses no file, and is not the save's.
        with contextlib.suppress(OSError):
            runner.close()


async def _cancelled_by_ctrl_c(coroutine: Coroutine[Any, Any, None]) -> None:
    """Await ``coroutine`` in the running loop, whose SIGINT handler cancels it once."""
    import asyncio

    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    interrupted: list[bool] = []  # one entry once Ctrl-C cancelled the task

    def on_interrupt() -> None:
        if not interrupted and task is not None:
            interrupted.append(True)
            task.cancel()

    previous = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
    except (RuntimeError, ValueError):  # not on the main thread: Ctrl-C is not ours to handle
        previous = None
    else:
        if _take_interrupt():  # one that came before the loop's handler was in place
            on_interrupt()
    try:
        await coroutine
    except asyncio.CancelledError:
        if interrupted:
            raise KeyboardInterrupt from None
        raise
    finally:
        if previous is not None:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, signal.SIG_IGN if interrupted else previous)
