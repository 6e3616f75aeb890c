"""The control case: files of the same sizes made and written by plain code that shares nothing with fileio.

The regression gate divides every case's time by the control's time from the same run. The control must not
call fileio's workloads or writer, or a slowdown there would slow the control too and hide itself. It makes
bytes of its own (the same shape as fileio's), and its output is verified against them, so the suite can
measure a fileio whose payload bytes differ.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

from fileio import CsvWorkload, PayloadWorkload, Workload

PATTERN = random.Random(0).randbytes(4096)


@dataclass(frozen=True)
class ControlWorkload:
    """The control's own bytes for a job's workload: names and sizes as fileio's, made by plain code."""

    workload: Workload

    def file_name(self, file_id: int) -> str:
        return self.workload.file_name(file_id)

    def data(self, file_id: int) -> bytes:
        if isinstance(self.workload, CsvWorkload):
            n_lines, n_values = self.workload.n_lines, self.workload.n_values
            lines = [",".join([str(file_id + i + j) for j in range(n_values)]) for i in range(n_lines)]
            return "\n".join(lines).encode("ascii")
        if isinstance(self.workload, PayloadWorkload):
            block = (file_id % 2**64).to_bytes(8, "little") + PATTERN[8:]
            return (block * (self.workload.size // 4096 + 1))[: self.workload.size]
        raise TypeError(f"no control for {self.workload!r}")


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


def save(directory: Path, ids: range, *, workers: int, workload: Workload, durability: str) -> ControlReport:
    """Make and write each file in one thread with os.write; fsync and rename as ``durability`` asks."""
    control = ControlWorkload(workload)
    total = 0
    for file_id in ids:
        data = control.data(file_id)
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
