"""Test-only pytest plugin: makes one strategy slower, to prove the regression gate catches it.

Loaded only with ``-p slowdown_plugin`` and ``FILEIO_SLOWDOWN=NAME:FRACTION`` (e.g. ``threads:0.25``): each
call of strategy NAME then spins the CPU for FRACTION of its own duration. Nothing in fileio can reach it.
"""

from __future__ import annotations

import dataclasses
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


fileio.STRATEGIES[name] = dataclasses.replace(original, body=slower)
