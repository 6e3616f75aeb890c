"""A case's peak memory: the caller and every process below it, sampled from /proc while one round runs.

Each process counts its proportional set size (PSS: a page shared by k processes counts 1/k in each), so
worker processes forked from the runner or a fork server are not charged again for the interpreter pages they
share with it, as a sum of VmRSS would charge them; the sum is the memory the process tree really occupies.
"""

from __future__ import annotations

import os
import threading
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from types import TracebackType

INTERVAL_S = 0.005


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone already
        return found
    for thread in threads:
        with suppress(OSError):  # the thread ended
            found.update(
                int(child) for child in Path(f"/proc/{pid}/task/{thread}/children").read_text().split()
            )
    return found


def process_tree(pid: int) -> set[int]:
    """``pid`` and every process below it."""
    found = frontier = {pid}
    while frontier:
        frontier = set().union(*map(_children, frontier)) - found
        found = found | frontier
    return found


def _pss_bytes(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # gone already
        return 0
    return next((int(line.split()[1]) * 1024 for line in text.splitlines() if line.startswith("Pss:")), 0)


def tree_bytes(pid: int) -> int:
    """The memory of ``pid`` and every process below it: the sum of their PSS."""
    return sum(map(_pss_bytes, process_tree(pid)))


class PeakMemory(AbstractContextManager["PeakMemory"]):
    """``with PeakMemory(pid) as peak:`` samples the tree of ``pid`` (this process by default) every few
    milliseconds in a thread;
    afterwards ``peak.mb`` is the highest sum seen above the sum at entry, in MB (10^6 bytes)."""

    def __init__(self, pid: int | None = None) -> None:
        self._pid = os.getpid() if pid is None else pid
        self._baseline = self._peak = 0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name="fileio-bench-memory", daemon=True)
        self.mb = 0.0

    def _sample(self) -> None:
        while not self._done.wait(INTERVAL_S):
            self._peak = max(self._peak, tree_bytes(self._pid))

    def __enter__(self) -> PeakMemory:
        self._baseline = self._peak = tree_bytes(self._pid)
        self._sampler.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._done.set()
        self._sampler.join()
        self._peak = max(self._peak, tree_bytes(self._pid))
        self.mb = (self._peak - self._baseline) / 1e6
