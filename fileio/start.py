"""How worker processes start here: ``fork`` where it is safe, because it is the cheapest by far (a forked
worker is ready in about a millisecond, where a fork server first starts an interpreter that imports fileio
and the main program). A fork copies only the thread that calls it, so it is safe where this process runs no
other thread, counted by the kernel (native threads included), on Linux. Elsewhere, and whenever another
thread runs, ``forkserver`` (``spawn`` where there is none), whose workers re-import the main program.
``FILEIO_START_METHOD`` overrides the choice.
"""

from __future__ import annotations

import os
import sys

START_METHOD_VARIABLE = "FILEIO_START_METHOD"
_forkserver_running = False  # whether this process has started the fork server, which stays up


def _threads_here() -> int:
    """Threads of this process, as the kernel counts them; 0 where it cannot tell."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def start_method() -> str:
    """How worker processes start now (see the module's docstring)."""
    chosen = os.environ.get(START_METHOD_VARIABLE)
    if not chosen and sys.platform == "linux" and _threads_here() == 1:
        return "fork"
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if chosen and chosen not in methods:
        raise ValueError(f"{START_METHOD_VARIABLE}={chosen!r}: choose from {', '.join(methods)}")
    return chosen or ("forkserver" if "forkserver" in methods else "spawn")


def start_kind(method: str) -> str:
    """What a start of ``method`` costs here: a fork server already running is a start of its own kind."""
    return "forkserver-live" if method == "forkserver" and _forkserver_running else method


def started(method: str) -> None:
    """Note that a pool of ``method`` has started (a fork server stays up after its first)."""
    global _forkserver_running
    _forkserver_running = _forkserver_running or method == "forkserver"
