"""What is saved: workloads turn a file id into a file name and the file's exact bytes.

A workload is a small picklable object with two methods, ``file_name(file_id)`` and ``data(file_id)``,
so every strategy can hand it to threads, processes or coroutines without special cases.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from functools import cache

from fileio.values import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeGuard

    from fileio.workload_protocol import Workload

PAYLOAD_BLOCK = 4096
_ID_BYTES = 8


@cache
def _payload_pattern() -> bytes:
    """The bytes every payload repeats, made once; each file's blocks start with its id, so files differ."""
    import random  # here: ~2 ms that `import fileio` need not pay

    return random.Random(0).randbytes(PAYLOAD_BLOCK)


def is_workload(value: object) -> TypeGuard[Workload]:
    """Whether ``value`` has a workload's two methods (:class:`fileio.workload_protocol.Workload`)."""
    return callable(getattr(value, "file_name", None)) and callable(getattr(value, "data", None))


def load_workload(spec: str) -> Workload:
    """Your own workload from ``"module:factory"``: the factory, called with no arguments, makes it.
    ValueError says what is wrong, in one line."""
    module_name, _, factory_name = spec.partition(":")
    if not module_name or not factory_name:
        raise ValueError(f"{spec!r} is not module:factory")
    try:
        workload = getattr(importlib.import_module(module_name), factory_name)()
    except Exception as error:  # the user's code: whatever it raises is the message
        raise ValueError(f"{spec!r}: {type(error).__name__}: {error}") from None
    if not is_workload(workload):
        raise ValueError(f"{spec!r} made {workload!r}, which has no file_name(id) and data(id)")
    return workload


def _check_count(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


class CsvWorkload(Value):
    """The classic CPU-bound job: ``n_lines`` lines of ``n_values`` numbers ``id + i + j``, as ASCII CSV."""

    __slots__ = ("n_lines", "n_values")
    label = "csv"

    def __init__(self, n_lines: int = 5000, n_values: int = 10) -> None:
        _check_count("n_lines", n_lines, 1)
        _check_count("n_values", n_values, 1)
        self.n_lines, self.n_values = n_lines, n_values

    def file_name(self, file_id: int) -> str:
        return f"data-{file_id:04d}.csv"

    def data(self, file_id: int) -> bytes:
        # Deliberately plain Python string work: this is the CPU-bound part being measured.
        lines = [",".join([str(file_id + i + j) for j in range(self.n_values)]) for i in range(self.n_lines)]
        return "\n".join(lines).encode("ascii")


class PayloadWorkload(Value):
    """Deterministic bytes of exactly ``size`` bytes per id, cheap to make, so writing dominates: a 4 KiB
    block repeated, which starts with the id (8 bytes, little-endian) and goes on with fixed random bytes."""

    __slots__ = ("size",)
    label = "payload"

    def __init__(self, size: int) -> None:
        _check_count("size", size, 0)
        self.size = size

    def file_name(self, file_id: int) -> str:
        return f"data-{file_id:04d}.bin"

    def data(self, file_id: int) -> bytes:
        block = (file_id % 2**64).to_bytes(_ID_BYTES, "little") + _payload_pattern()[_ID_BYTES:]
        if self.size <= PAYLOAD_BLOCK:
            return block[: self.size]
        repeats, rest = divmod(self.size, PAYLOAD_BLOCK)
        return block * repeats + block[:rest]


class ShardedWorkload(Value):
    """Another workload's files, ``files_per_directory`` consecutive ids to a subdirectory: ids 0-999 in
    ``00000/``, 1000-1999 in ``00001/``, ... (with 1000). Where creating files in one directory is what limits
    parallel writers (``fileio probe`` shows it: "procs, dir each" against "processes"), a strategy that gives
    each worker a contiguous batch of ids, such as ``process_batches``, then writes a directory per worker."""

    __slots__ = ("workload", "files_per_directory")

    def __init__(self, workload: Workload, files_per_directory: int) -> None:
        if not is_workload(workload):
            raise TypeError(f"workload must have file_name(id) and data(id) methods, got {workload!r}")
        _check_count("files_per_directory", files_per_directory, 1)
        self.workload, self.files_per_directory = workload, files_per_directory

    def file_name(self, file_id: int) -> str:
        return f"{_shard_name(file_id // self.files_per_directory)}/{self.workload.file_name(file_id)}"

    def data(self, file_id: int) -> bytes:
        return self.workload.data(file_id)

    def directories(self, ids: Iterable[int]) -> list[str]:
        """The subdirectories the files of ``ids`` go to, each once, in order."""
        return [
            _shard_name(shard) for shard in sorted({file_id // self.files_per_directory for file_id in ids})
        ]


def _shard_name(shard: int) -> str:
    return f"{shard:05d}"


def subdirectories(workload: Workload, ids: Iterable[int]) -> list[str]:
    """The subdirectories of the save directory that ``workload`` puts the files of ``ids`` in (none for a
    workload that names plain files)."""
    return workload.directories(ids) if isinstance(workload, ShardedWorkload) else []


SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
}


def parse_size(text: str) -> int:
    """A byte count from text such as ``4096``, ``256KiB`` or ``1MiB``; ValueError names bad text."""
    number = text.strip().rstrip("".join({c for unit in SIZE_UNITS for c in unit}))
    unit = text.strip()[len(number) :]
    if not number.isdigit() or unit not in SIZE_UNITS:
        units = ", ".join(u for u in SIZE_UNITS if u)
        raise ValueError(f"bad size {text!r}: expected a whole number with an optional unit ({units})")
    return int(number) * SIZE_UNITS[unit]


def format_size(size: int) -> str:
    """The shortest exact binary form: 4096 -> '4KiB', 1048576 -> '1MiB'."""
    for unit in ("GiB", "MiB", "KiB"):
        if size and size % SIZE_UNITS[unit] == 0:
            return f"{size // SIZE_UNITS[unit]}{unit}"
    return f"{size}B"
