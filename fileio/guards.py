"""What keeps a save safe from the program around it: repeated interrupts, a main module that worker
processes cannot re-import safely, and a caller that dies while its workers run."""

from __future__ import annotations

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


def _raise_once(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def interrupt_once() -> None:
    """From now on, the first Ctrl-C (SIGINT) raises KeyboardInterrupt and later ones are ignored, so that the
    clean-up the first one starts runs to its end. For a program that exits after an interrupt."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) not in (
        signal.SIG_IGN,
        None,
    ):
        signal.signal(signal.SIGINT, _raise_once)


@contextmanager
def interrupts_once() -> Iterator[None]:
    """:func:`interrupt_once` for the duration of a save, where Python's own Ctrl-C handler is in place."""
    on_main_thread = threading.current_thread() is threading.main_thread()
    if not on_main_thread or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    signal.signal(signal.SIGINT, _raise_once)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def run_interruptible(coroutine: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` for a save: the first Ctrl-C cancels the coroutine, whose tasks clean up, and then
    raises KeyboardInterrupt; later ones are ignored until then, as with :func:`interrupts_once`."""
    import asyncio

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        interrupted = False

        def on_interrupt() -> None:
            nonlocal interrupted
            if not interrupted and task is not None:
                interrupted = True
                task.cancel()

        previous = signal.getsignal(signal.SIGINT)
        try:
            loop.add_signal_handler(signal.SIGINT, on_interrupt)
        except (RuntimeError, ValueError):  # not on the main thread: Ctrl-C is not ours to handle
            previous = None
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

    asyncio.run(main())


def _under_main_guard(source: str, line: int) -> bool:
    """Whether ``line`` of a module's source lies in an ``if __name__ == "__main__":`` block."""
    import ast

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = {ast.unparse(part) for part in (node.test.left, *node.test.comparators)}
            if names == {"__name__", "'__main__'"} and node.body[0].lineno <= line <= (node.end_lineno or 0):
                return True
    return False


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
    top_level = None  # the main program's own frame, running its top-level code, if it is on this stack
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals is vars(main):
            top_level = frame
        frame = frame.f_back
    if top_level is None:
        return None
    with open(path) as main_file:
        if _under_main_guard(main_file.read(), top_level.f_lineno):
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
