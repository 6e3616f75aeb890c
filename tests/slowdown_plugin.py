"""Test-only: makes one strategy slower, to prove the regression gate catches it.

Imported, with ``FILEIO_SLOWDOWN=NAME:FRACTION`` set (e.g. ``threads:0.25``), by a ``sitecustomize`` that a
test puts on PYTHONPATH, so that it reaches the benchmark's runner processes, where cases are measured: each
call of strategy NAME then spins the CPU for FRACTION of its own duration. Nothing in fileio can reach it.
"""

from __future__ import annotations

import os
import time

import fileio

name, fraction = os.environ["FILEIO_SLOWDOWN"].split(":")
original = fileio.STRATEGIES[name]


def slower(*args: object) -> None:
    start = time.perf_counter()
    original.body(*args)
    until = time.perf_counter() + (time.perf_counter() - start) * float(fraction)
    while time.perf_counter() < until:
        pass


fileio.STRATEGIES[name] = original.replace(body=slower)
