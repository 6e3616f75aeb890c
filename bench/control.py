"""The control case: the same files made and written by plain code that shares nothing with fileio.

The regression gate divides every case's time by the control's time from the same run. The control must not
call fileio's workloads or writer, or a slowdown there would slow the control too and hide itself.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from time import perf_counter

from fileio import CsvWorkload, PayloadWorkload, SaveReport, Workload


def _csv(file_id: int, n_lines: int, n_values: int) -> bytes:
    lines = []
    for i in range(n_lines):
        lines.append(",".join([str(file_id + i + j) for j in range(n_values)]))
    return "\n".join(lines).encode("ascii")


def _payload(file_id: int, size: int) -> bytes:
    block = random.Random(file_id).randbytes(4096)
    return (block * (size // 4096 + 1))[:size]


def _data(workload: Workload, file_id: int) -> bytes:
    if isinstance(workload, CsvWorkload):
        return _csv(file_id, workload.n_lines, workload.n_values)
    if isinstance(workload, PayloadWorkload):
        return _payload(file_id, workload.size)
    raise TypeError(f"no control for {workload!r}")


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


def save(directory: Path, ids: range, *, workers: int, workload: Workload, durability: str) -> SaveReport:
    """Make and write each file in one thread with os.write; fsync and rename as ``durability`` asks."""
    start = perf_counter()
    total = 0
    for file_id in ids:
        data = _data(workload, file_id)
        final = os.path.join(directory, workload.file_name(file_id))
        if durability == "atomic":
            temporary = os.path.join(directory, f".control-{file_id}")
            _write(temporary, data, sync=True)
            os.replace(temporary, final)
        else:
            _write(final, data, sync=durability == "fsync")
        total += len(data)
    if durability == "atomic":
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return SaveReport(len(ids), total, perf_counter() - start, [])
