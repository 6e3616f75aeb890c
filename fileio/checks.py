"""The checks of a save's arguments, before anything is written: each returns the value it checked, or
raises TypeError or ValueError naming the argument."""

from __future__ import annotations

import os
from collections.abc import Iterable

from fileio.workloads import CsvWorkload, PayloadWorkload, is_workload, subdirectories
from fileio.writer import (
    DURABILITIES,
    NOT_NAMES,
)

# The file_name methods whose names are plain by construction ("data-<id>.<ext>" of an int): a subclass
# that names its files otherwise has its names checked.
PLAIN_NAMES = {PayloadWorkload.file_name, CsvWorkload.file_name}
TYPE_CHECKING = False
if TYPE_CHECKING:
    from fileio.workload_protocol import Workload


def _check_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return value


def check_workers(workers: object) -> int:
    count = _check_int("workers", workers)
    if count < 1:
        raise ValueError(f"workers must be >= 1, got {count}")
    return count


def check_ids(ids: Iterable[int]) -> list[int]:
    """The ids as a list: non-negative ints, no repeats."""
    if type(ids) is range and (not ids or min(ids[0], ids[-1]) >= 0):
        return list(ids)  # distinct ints, none negative: what is left to check holds by construction
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be an iterable of ints, got {ids!r}")
    checked = [_check_int("each id", file_id) for file_id in ids]
    seen: set[int] = set()
    for file_id in checked:
        if file_id < 0:
            raise ValueError(f"ids must be non-negative, got {file_id}")
        if file_id in seen:
            raise ValueError(f"id {file_id} is given more than once")
        seen.add(file_id)
    return checked


def check_directory(directory: object) -> str:
    """The target's path; it, or its nearest existing ancestor, must be a directory, and it must not be a
    symbolic link (which a save does not follow)."""
    path = os.fspath(directory) if isinstance(directory, (str, os.PathLike)) else None
    if not isinstance(path, str):
        raise TypeError(f"directory must be a path, got {directory!r}")
    # Without its trailing slashes, which would make the kernel follow a final symbolic link.
    path = path.rstrip("/") or ("/" if path else ".")
    if os.path.islink(path):
        raise ValueError(
            f"directory {path} is a symbolic link, which fileio will not follow: give the directory it leads "
            "to"
        )
    existing = path
    while not os.path.exists(existing) and os.path.dirname(existing) not in ("", existing):
        existing = os.path.dirname(existing)
    if os.path.exists(existing) and not os.path.isdir(existing):
        where = "is" if existing == path else f"is under {existing}, which is"
        raise ValueError(f"directory {path} {where} not a directory")
    return path


def check_names(workload: Workload, ids: list[int]) -> None:
    """Every id's file name stays inside the save directory: one name, or ``SUBDIRECTORY/NAME`` with one of
    the subdirectories the workload puts files in (:func:`fileio.workloads.subdirectories`); no empty part,
    ``.`` or ``..``, absolute path or NUL byte. ValueError names the id and the name."""
    if getattr(workload.file_name, "__func__", None) in PLAIN_NAMES:  # the method called, not one shadowed
        return
    allowed = set(subdirectories(workload, ids))
    for file_id in ids:
        name = workload.file_name(file_id)
        if isinstance(name, str) and "/" not in name and "\0" not in name and name not in NOT_NAMES:
            continue  # one plain name: the common case, checked first, cheaply
        parts = name.split("/") if isinstance(name, str) else []
        if (
            not 1 <= len(parts) <= 2
            or (len(parts) == 2 and parts[0] not in allowed)
            or any(part in NOT_NAMES or "\0" in part for part in parts)
        ):
            raise ValueError(
                f"id {file_id}: file name {name!r} is not a name inside the save directory: a file name must "
                "be one name (no '/', '.', '..', empty or absolute path), or SUBDIRECTORY/NAME for a "
                "ShardedWorkload's subdirectories"
            )


def check_workload(workload: object) -> Workload:
    if not is_workload(workload):
        raise TypeError(f"workload must have file_name(id) and data(id) methods, got {workload!r}")
    return workload


def check_durability(durability: object) -> str:
    if durability not in DURABILITIES:
        raise ValueError(f"durability must be one of {', '.join(DURABILITIES)}; got {durability!r}")
    return durability
