"""The control case: files of the same names and sizes made and written by plain code that shares nothing with
fileio: what a user writes by hand, measured in every sweep beside the strategies.

The gate divides every case's time by the control's in the same sweep. The control must not call fileio's
workloads or writer, or a slowdown there would slow the control too and hide itself; it does not even import
fileio, so its cold rounds (a fresh interpreter) pay only what a script written by hand pays. It makes
fileio's bytes with code of its own, the same way and at the same cost (made by slicing a longer repeat,
256 KiB took 116 us where fileio takes 6, which counted as fileio's gain), and its output is verified against
them.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

PATTERN = random.Random(0).randbytes(4096)


@dataclass(frozen=True)
class ControlWorkload:
    """The control's own code for a job's bytes (from ``bench.matrix.Job.spec``): fileio's names and bytes."""

    kind: str  # "csv" or "payload"
    size: int = 0
    n_lines: int = 0
    n_values: int = 0

    def file_name(self, file_id: int) -> str:
        return f"data-{file_id:04d}.{'csv' if self.kind == 'csv' else 'bin'}"

    def data(self, file_id: int) -> bytes:
        if self.kind == "csv":
            lines = [
                ",".join([str(file_id + i + j) for j in range(self.n_values)]) for i in range(self.n_lines)
            ]
            return "\n".join(lines).encode("ascii")
        block = (file_id % 2**64).to_bytes(8, "little") + PATTERN[8:]
        repeats, rest = divmod(self.size, 4096)
        return block * repeats + block[:rest]


@dataclass(frozen=True)
class ControlReport:
    files: int
    bytes: int


def _write(path: str, data: bytes, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def save(directory: str, ids: range, workload: ControlWorkload, durability: str) -> ControlReport:
    """Make and write each file in one thread with os.write; fsync and rename as ``durability`` asks."""
    total = 0
    for file_id in ids:
        data = workload.data(file_id)
        final = os.path.join(directory, workload.file_name(file_id))
        if durability == "atomic":
            temporary = os.path.join(directory, f".control-{file_id}")
            _write(temporary, data, sync=True)
            os.replace(temporary, final)
        else:
            _write(final, data, sync=durability == "fsync")
        total += len(data)
    if durability != "none":
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return ControlReport(len(ids), total)
