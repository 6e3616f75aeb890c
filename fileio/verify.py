"""Checking a save: exactly the expected files, exactly the expected bytes, nothing temporary left."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from fileio.workloads import Workload
from fileio.writer import is_temporary

SHOWN_PROBLEMS = 10


class VerificationError(AssertionError):
    """The saved files differ from what the workload says they should be; the message lists how."""


def _first_difference(actual: bytes, expected: bytes) -> int:
    return next(
        (offset for offset, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
        min(len(actual), len(expected)),
    )


def verify(directory: str | os.PathLike[str], ids: Iterable[int], workload: Workload) -> None:
    """Raise :class:`VerificationError` unless ``directory`` holds exactly the files ``workload`` makes for
    ``ids``, byte for byte, and no temporary or other files."""
    directory = Path(directory)
    expected = {workload.file_name(file_id): file_id for file_id in ids}
    present = set(os.listdir(directory)) if directory.is_dir() else set()
    problems = [f"missing: {name}" for name in sorted(expected.keys() - present)]
    for name in sorted(present - expected.keys()):
        kind = "temporary file left" if is_temporary(name) else "unexpected file"
        problems.append(f"{kind}: {name}")
    for name in sorted(expected.keys() & present):
        actual = (directory / name).read_bytes()
        wanted = workload.data(expected[name])
        if actual != wanted:
            problems.append(
                f"wrong bytes: {name}: {len(actual)} bytes, expected {len(wanted)}, "
                f"first difference at offset {_first_difference(actual, wanted)}"
            )
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        shown = problems[:SHOWN_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise VerificationError(f"{directory}: {len(problems)} problem(s):\n  " + "\n  ".join(shown))
