"""A workload whose bytes numpy computes, releasing the GIL while it does (a sort of 16,384 random floats,
128 KiB a file): ``pytest bench/ --fileio-workload bench.numpy_workload:make``. What a user who saves arrays
computed per file meets; ``auto``'s first guess for threads assumes the GIL held while bytes are made."""

from __future__ import annotations

import numpy as np

SIZE = 128 * 1024


class NumpyWorkload:
    """File ``id`` holds 16,384 standard normal floats from a generator seeded with ``id``, sorted."""

    def file_name(self, file_id: int) -> str:
        return f"array-{file_id:06d}.bin"

    def data(self, file_id: int) -> bytes:
        values = np.random.default_rng(file_id).standard_normal(SIZE // 8)
        values.sort()
        return values.tobytes()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NumpyWorkload)

    def __hash__(self) -> int:
        return hash(NumpyWorkload)


def make() -> NumpyWorkload:
    return NumpyWorkload()
