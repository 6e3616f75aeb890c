"""What ``auto`` measured on this machine, by typed key: what each choice gave the last saves of such files,
kept between runs in a file per Python (by :mod:`marshal`, as Python's own caches are)."""

from __future__ import annotations

import atexit
import marshal
import os
import sys
import zlib
from contextlib import suppress

from fileio.cache import cache_directory
from fileio.values import Frozen


class Key(Frozen):
    """What a speed-up depends on: the filesystem, the workload's kind, the files' size and number (each
    within a factor of 4: a start-up is paid once for them all), the durability and the helpers."""

    __slots__ = ("device", "workload", "size_class", "count_class", "durability", "helpers")
    device: int
    workload: str
    size_class: int
    count_class: int
    durability: str
    helpers: int

    def __init__(
        self, device: int, workload: str, size_class: int, count_class: int, durability: str, helpers: int
    ) -> None:
        self._freeze(locals())

    @classmethod
    def of(
        cls, directory: str, workload: object, nbytes: int, files: int, durability: str, helpers: int
    ) -> Key:
        device, kind = os.stat(directory).st_dev, type(workload).__qualname__
        return cls(device, kind, nbytes.bit_length() // 2, files.bit_length() // 2, durability, helpers)


class Figures:
    """What the last ``memory`` saves of each :class:`Key` chose and measured (``"alone"`` at 1 where they
    chose no helpers); read from ``path`` once, written back by :meth:`write`."""

    def __init__(self, path: str | None, memory: int) -> None:
        self.path, self.memory, self.changed = path, memory, False
        self.saves: dict[Key, list[tuple[str, float]]] = {}
        with suppress(OSError, EOFError, ValueError, TypeError), open(path or "", "rb") as file:
            self.saves = {  # each part checked: a file of another shape (an older fileio's) reads as none
                Key(*key): [(str(kind), float(gain)) for kind, gain in pairs]
                for key, pairs in marshal.load(file)
            }

    def gains(self, key: Key) -> dict[str, list[float]]:
        """The figures of each kind over the last saves of ``key``, oldest first."""
        gains: dict[str, list[float]] = {}
        for kind, gain in self.saves.get(key, []):
            gains.setdefault(kind, []).append(gain)
        return gains

    def add(self, key: Key, kind: str, gain: float) -> None:
        self.saves[key] = [*self.saves.get(key, []), (kind, gain)][-self.memory :]
        self.changed = True

    def write(self) -> None:
        """Write the figures to ``path`` (whole, by a rename) if any changed; a failure loses them quietly."""
        if self.changed and self.path:
            self.changed = False
            with suppress(OSError, ValueError):  # ValueError: a figure marshal cannot write
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                with open(temporary := f"{self.path}.{os.getpid()}", "wb") as file:
                    marshal.dump([(key.astuple(), pairs) for key, pairs in self.saves.items()], file)
                os.replace(temporary, self.path)


def path() -> str:
    """This Python's figures file in fileio's cache directory."""
    key = f"{sys.executable}|{sys.version}".encode()
    return os.path.join(cache_directory(), f"auto-{zlib.crc32(key):08x}.marshal")


_store: Figures | None = None


def store(memory: int) -> Figures:
    """This process's figures, read at first use and written at its exit."""
    global _store
    if _store is None:
        _store = Figures(path(), memory)
        atexit.register(_store.write)
    return _store


def forget_measurements() -> None:
    """Start again from no figures, in this process and in the cache: for a benchmark that compares two
    versions of fileio, which must not decide from what each happened to learn before."""
    if _store is not None:
        _store.saves.clear()
        _store.changed = False
    with suppress(OSError):
        os.remove(path())
