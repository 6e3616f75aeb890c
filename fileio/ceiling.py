"""The ceiling: the least time this machine could take to save a job's files, measured without fileio, and
what it gave N processes at making bytes (its parallel capacity)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from fileio.timed import (
    GENERATION_FILES,
    MECHANISMS,
    best_raw_seconds,
    generation_seconds,
    parallel_generation_seconds,
)
from fileio.workload_protocol import Workload

MEASURABLE_S = 0.005  # the least one process's GENERATION_FILES take for a capacity to be told


@dataclass(frozen=True)
class Ceiling:
    """What bounds saving one job on one filesystem, measured without fileio: making the bytes on so many
    processes at once, and the best raw write of the job's files with at most so many threads or processes."""

    files: int
    size: int  # bytes per file (file 0's, for a CSV workload)
    # Concurrency -> wall seconds a file took to make, that many processes making files at once.
    generation_s: dict[int, float]
    raw_seconds: dict[int, float]  # concurrency -> best wall seconds over threads and processes
    warm_generation_s: float = (
        0.0  # seconds a file takes to make in the caller, warm: whether a capacity tells
    )

    def seconds(self, workers: int) -> float:
        """The least time ``workers`` workers could take: the larger of making every file's bytes on as many
        processes at once and the best raw write with at most ``workers`` threads or processes."""
        write = min(seconds for count, seconds in self.raw_seconds.items() if count <= workers)
        return max(self.generation_s[workers] * self.files, write)

    def capacity(self, workers: int) -> float | None:
        """How many times as fast ``workers`` processes made bytes as one: what this machine gave now (the
        host may give our cores less than their count); None where making them took too little to time (a
        payload's bytes: microseconds; a fresh process's first touches would be all that was timed)."""
        if self.warm_generation_s * GENERATION_FILES < MEASURABLE_S:
            return None
        return self.generation_s[1] / self.generation_s[workers]


def measure_ceiling(
    directory: str | os.PathLike[str],
    workload: Workload,
    files: int,
    durability: str,
    concurrencies: Iterable[int],
    repeats: int = 3,
) -> Ceiling:
    """A job's :class:`Ceiling` on ``directory``'s filesystem: for each concurrency (and 1), the best of
    ``repeats`` timings of making the bytes of GENERATION_FILES files per process on as many processes, and
    the best of ``repeats`` raw writes on threads and as many on processes."""
    size = len(workload.data(0))
    counts = sorted({1, *concurrencies})
    raw = {
        count: best_raw_seconds(directory, size, durability, files, count, MECHANISMS, repeats)
        for count in counts
    }
    generation = {
        count: min(
            parallel_generation_seconds(workload, min(files, GENERATION_FILES) * count, count)
            for _ in range(repeats)
        )
        for count in counts
    }
    return Ceiling(files, size, generation, raw, generation_seconds(workload, 2))
