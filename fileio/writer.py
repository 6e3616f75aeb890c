"""Writing one file with the chosen durability, and the directory-level steps around it."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

DURABILITIES = ("none", "fsync", "atomic")
TEMP_SUFFIX = ".fileio-tmp"


def temp_path(path: Path) -> Path:
    """The hidden temporary name an atomic write uses before renaming to ``path``."""
    return path.with_name(f".{path.name}{TEMP_SUFFIX}")


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def _write(path: Path, data: bytes, sync: bool) -> None:
    with open(path, "wb") as file:
        file.write(data)
        if sync:
            file.flush()
            os.fsync(file.fileno())


def write_file(path: Path, data: bytes, durability: str) -> None:
    """Write ``data`` to ``path``: handed to the OS (none), fsync'd (fsync), or temp + rename (atomic)."""
    if durability != "atomic":
        _write(path, data, sync=durability == "fsync")
        return
    temp = temp_path(path)
    try:
        _write(temp, data, sync=True)
        os.replace(temp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def fsync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_temporaries(directory: Path) -> None:
    """Delete temporary files an interrupted atomic save left in ``directory``."""
    with suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            if is_temporary(entry.name):
                with suppress(FileNotFoundError):
                    os.unlink(entry.path)
