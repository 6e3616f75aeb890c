"""What ``auto`` has measured on this machine, by typed key, kept between runs in a file per Python (by
:mod:`marshal`, as Python's own caches are): what each choice gave the last saves of such files (its speed-up
over the caller alone, start-up included), and what starting workers cost (for the first guess of new
ones)."""

from __future__ import annotations

import atexit
import marshal
import os
import sys
import zlib
from contextlib import suppress

from fileio.cache import cache_directory
from fileio.values import Frozen

# What starting workers costs a save before one is measured here (the wait for all to have work, less what
# the caller saved meanwhile), by start kind (``fileio.start.start_kind``); "import" is loading fileio.sharing
# and multiprocessing, once per process. ``python -m bench.starts`` measures the starts themselves.
FIRST_GUESS_START_S = {
    "import": 0.02,
    "fork": 0.005,
    "forkserver-live": 0.03,
    "forkserver": 0.15,
    "spawn": 0.3,
}


class Key(Frozen):
    """What a speed-up depends on: the filesystem, what the bytes cost to make against writing them (the
    workload's kind), the files' size and their number (each within a factor of 4: a start-up is paid once
    for them all), the durability and the helpers."""

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
    """What the last ``memory`` saves of each :class:`Key` chose and measured (``"alone"`` at a gain of 1
    where they chose no helpers), and the last ``memory`` start-ups of each kind; read from ``path`` once,
    written back by :meth:`write` (at the process's exit for :func:`store`'s)."""

    def __init__(self, path: str | None, memory: int) -> None:
        self.path, self.memory = path, memory
        self.saves: dict[Key, list[tuple[str, float]]] = {}
        self.starts: dict[str, list[float]] = {}
        self.changed = False
        with (
            suppress(OSError, EOFError, ValueError, TypeError, AttributeError),
            open(path or "", "rb") as file,
        ):
            saves, starts = marshal.load(file)  # each line below checks its shape
            self.saves = {
                Key(*key): [(str(kind), float(gain)) for kind, gain in pairs] for key, pairs in saves
            }
            self.starts = {str(kind): [float(value) for value in values] for kind, values in starts.items()}

    def gains(self, key: Key) -> dict[str, list[float]]:
        """The figures of each kind of helper over the last saves of ``key``, oldest first."""
        gains: dict[str, list[float]] = {}
        for kind, gain in self.saves.get(key, []):
            gains.setdefault(kind, []).append(gain)
        return gains

    def add_save(self, key: Key, kind: str, gain: float) -> None:
        self.saves[key] = [*self.saves.get(key, []), (kind, gain)][-self.memory :]
        self.changed = True

    def add_start(self, kind: str, seconds: float) -> None:
        self.starts[kind] = [*self.starts.get(kind, []), seconds][-self.memory :]
        self.changed = True

    def start_s(self, kind: str) -> float:
        """What starting a new pool of ``kind`` cost the last saves: the median measured, else a guess."""
        measured = sorted(self.starts.get(kind, []))
        return measured[len(measured) // 2] if measured else FIRST_GUESS_START_S[kind]

    def write(self) -> None:
        """Write the figures to ``path`` (whole, by a rename) if any changed; a failure loses them quietly."""
        if not (self.changed and self.path):
            return
        self.changed = False
        with suppress(OSError, ValueError):  # ValueError: a figure marshal cannot write
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            temporary = f"{self.path}.{os.getpid()}"
            with open(temporary, "wb") as file:
                saves = [(key.astuple(), pairs) for key, pairs in self.saves.items()]
                marshal.dump((saves, self.starts), file)
            os.replace(temporary, self.path)

    def forget(self) -> None:
        """Start again from no figures, here and on disk."""
        self.saves.clear()
        self.starts.clear()
        self.changed = False
        with suppress(OSError):
            os.remove(self.path or "")


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
    figures = Figures(path(), 1) if _store is None else _store
    figures.forget()
