"""What keeps a save safe from the program around it: repeated interrupts, a main module that worker
processes cannot re-import safely, and a caller that dies while its workers run."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager

from fileio.writer import owner_alive

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

POLL_SECONDS = 0.2  # where a process cannot be waited for (no pidfd): how often to look


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


@functools.lru_cache(maxsize=4)
def _main_guard_blocks(path: str) -> tuple[tuple[int, int], ...]:
    """The lines of the ``if __name__ == "__main__":`` blocks in a program's source, read once per process:
    auto asks before each save that may start processes, and parsing even a short program takes ~1 ms."""
    import ast

    with open(path) as source:
        tree = ast.parse(source.read())
    blocks = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = {ast.unparse(part) for part in (node.test.left, *node.test.comparators)}
            if names == {"__name__", "'__main__'"}:
                blocks.append((node.body[0].lineno, node.end_lineno or 0))
    return tuple(blocks)


def main_module_problem(strategy: str) -> str | None:
    """Why worker processes that re-import the main program would re-run it, in one sentence naming the
    cause and the fix, or None: a script that calls the strategy at its top level without the ``__main__``
    guard, or a program read on standard input (workers re-import the main program from its file)."""
    main = sys.modules["__main__"]
    path = getattr(main, "__file__", None)
    if path is None:  # python -c, an interactive session, a notebook: nothing to re-import
        return None
    if not os.path.isfile(path):
        return (
            f"strategy {strategy!r} starts worker processes, which re-import the main program from its file, "
            f"and this program was read from {path}: save it as a script whose save call sits under "
            '`if __name__ == "__main__":`, or use a strategy without processes'
        )
    import inspect  # here: only where workers would re-import the main program (~5 ms)

    top_level = None  # the main program's own frame, running its top-level code, if it is on this stack
    frame: FrameType | None = inspect.currentframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            top_level = frame
        frame = frame.f_back
    if top_level is None:
        return None
    if any(first <= top_level.f_lineno <= last for first, last in _main_guard_blocks(path)):
        return None
    return (
        f"strategy {strategy!r} was called at the top level of {path} (line {top_level.f_lineno}) without "
        '`if __name__ == "__main__":`: its worker processes re-import that script and would run the save '
        "again; put the call under that guard"
    )


def check_main_module(strategy: str) -> None:
    """Refuse, with :func:`main_module_problem`'s sentence, to start worker processes that would re-run the
    main program."""
    problem = main_module_problem(strategy)
    if problem is not None:
        raise RuntimeError(problem)


def _kill_self_when_gone(owner: str) -> None:
    import select

    pid = int(owner.partition("-")[0])
    try:
        handle = os.pidfd_open(pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: look now and then
        while owner_alive(owner):
            time.sleep(POLL_SECONDS)
    else:
        if owner_alive(owner):  # the pidfd is of the caller itself, not of a process that reused its pid
            select.select([handle], [], [])
    os.kill(os.getpid(), signal.SIGKILL)


def exit_with(owner: str) -> None:
    """In a worker process: die (SIGKILL: at once, writing nothing more) as soon as the caller named by the
    owner token ends, however it ends. The fork server keeps workers' parent alive, so the parent's death
    cannot be the signal; a thread of the worker waits on the caller itself."""
    threading.Thread(target=_kill_self_when_gone, args=(owner,), name="fileio-exit-with", daemon=True).start()
