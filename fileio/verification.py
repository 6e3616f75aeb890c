"""Checking a save: exactly the expected files, exactly the expected bytes, nothing temporary left."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from fileio.workload_protocol import Workload
from fileio.workloads import subdirectories
from fileio.writer import owner_alive, temporary_owner

SHOWN_PROBLEMS = 10


class VerificationError(AssertionError):
    """The saved files differ from what the workload says they should be; the message lists how."""


def _first_difference(actual: bytes, expected: bytes) -> int:
    return next(
        (offset for offset, (a, b) in enumerate(zip(actual, expected, strict=False)) if a != b),
        min(len(actual), len(expected)),
    )


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def expected_digests(ids: Iterable[int], workload: Workload) -> dict[int, bytes]:
    """Digests of the files ``workload`` makes for ``ids``: compute once, verify many saves quickly."""
    return {file_id: _digest(workload.data(file_id)) for file_id in ids}


def _listing(directory: Path) -> dict[str, str]:
    """Each entry of ``directory`` (none where it is missing) and its kind: "file" (a regular file), "link" (a
    symbolic link, never followed) or "other"."""
    try:
        with os.scandir(directory) as entries:
            return {entry.name: _kind(entry) for entry in entries}
    except (FileNotFoundError, NotADirectoryError):
        return {}


def _kind(entry: os.DirEntry[str]) -> str:
    if entry.is_symlink():
        return "link"
    return "file" if entry.is_file(follow_symlinks=False) else "other"


def _tree(directory: Path, shards: Iterable[str]) -> dict[str, str]:
    """The kind of each entry of ``directory`` and of its shard subdirectories, by relative name; a shard
    that is a symbolic link is one entry, not followed."""
    kinds = _listing(directory)
    for shard in shards:
        if kinds.pop(shard, None) == "link":
            kinds[shard] = "link"
        else:
            kinds.update({f"{shard}/{name}": kind for name, kind in _listing(directory / shard).items()})
    return kinds


def _compare(
    path: Path,
    file_id: int,
    workload: Workload,
    digests: Mapping[int, bytes] | None,
    contents: Mapping[int, bytes] | None,
) -> str | None:
    """How the file at ``path`` differs from what ``workload`` makes for ``file_id``, or None."""
    actual = path.read_bytes()
    if contents is not None:
        wanted = contents[file_id]
    elif digests is not None and _digest(actual) == digests[file_id]:
        return None
    else:
        wanted = workload.data(file_id)
    if actual == wanted:
        return None
    offset = _first_difference(actual, wanted)
    return f"{len(actual)} bytes, expected {len(wanted)}, first difference at offset {offset}"


def verify(
    directory: str | os.PathLike[str],
    ids: Iterable[int],
    workload: Workload,
    digests: Mapping[int, bytes] | None = None,
    contents: Mapping[int, bytes] | None = None,
) -> None:
    """Raise :class:`VerificationError` unless ``directory`` holds exactly the files ``workload`` makes for
    ``ids``, byte for byte, and no temporary or other files. A symbolic link is never a saved file, nor
    followed: it is named as a problem, at a file's name or at a subdirectory's.

    With ``digests`` from :func:`expected_digests`, files are compared by digest and only a file that differs
    is generated again, to say where it differs. With ``contents``, each file's expected bytes kept from the
    workload, they are compared directly: the fastest way, for a caller that verifies many saves and has
    the memory.
    """
    directory = Path(directory)
    ids = list(ids)
    expected = {workload.file_name(file_id): file_id for file_id in ids}
    kinds = _tree(directory, subdirectories(workload, ids))
    links = {name for name, kind in kinds.items() if kind == "link"}
    present = kinds.keys() - links
    problems = [f"missing: {name}" for name in sorted(expected.keys() - present - links)]
    problems += [f"symbolic link (not followed): {name}" for name in sorted(links)]
    for name in sorted(present - expected.keys()):
        owner = temporary_owner(os.path.basename(name))
        if owner is None:
            problems.append(f"unexpected file: {name}")
        elif owner_alive(owner):
            problems.append(f"temporary file of a save still running: {name}")
        else:
            problems.append(f"stale temporary file (its save died; a resumed save removes it): {name}")
    for name in sorted(expected.keys() & present):
        if kinds[name] != "file":
            problems.append(f"not a regular file: {name}")
            continue
        problem = _compare(directory / name, expected[name], workload, digests, contents)
        if problem:
            problems.append(f"wrong bytes: {name}: {problem}")
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        shown = problems[:SHOWN_PROBLEMS] + ([f"... and {more} more"] if more > 0 else [])
        raise VerificationError(f"{directory}: {len(problems)} problem(s):\n  " + "\n  ".join(shown))
