"""What worker processes cost and give on this machine, as its saves have measured them, kept between runs for
``auto`` to weigh: how long a pool takes to get a worker ready, by how it starts, and how much faster workers
saved than the caller alone did, by filesystem, file size and durability. Light on purpose: ``auto`` reads it
before deciding whether to load the multiprocessing machinery at all.

How workers start (:func:`start_method`): ``fork`` where it is safe, because it is the cheapest by far (a
forked worker is ready in about a millisecond, where a fork server first starts an interpreter that imports
fileio and the main program: ~100 ms on a 2-core VM). A fork copies only the thread that calls it, so it is
safe where this process runs no other thread, counted by the kernel (native threads included), on Linux.
Elsewhere, and whenever another thread runs, ``forkserver`` (``spawn`` where there is none), whose workers
re-import the main program. ``FILEIO_START_METHOD`` overrides the choice.
"""

from __future__ import annotations

import atexit
import os
import sys
import zlib
from contextlib import suppress
from time import monotonic

START_METHOD_VARIABLE = "FILEIO_START_METHOD"
# Until a figure has been measured here, these first guesses stand in: seconds to a first ready worker by
# start kind ("import" is loading fileio.pools and multiprocessing, paid once per process).
FIRST_GUESS_START_S = {
    "threads": 0.0005,
    "import": 0.02,
    "fork": 0.005,
    "forkserver-live": 0.03,
    "forkserver": 0.15,
    "spawn": 0.3,
}
KEPT = 5  # measurements kept per figure; the median is used
# A process writes its figures to the cache at most once in WRITE_EVERY_S, the rest at its next write or when
# it exits: a write costs 0.2 ms here on a tmpfs, 0.7 ms on ext4, 5 % of a save of 256 x 256 KiB. Once a
# second was not enough: a program that saves every second or so (the bench's runner) paid it every save.
WRITE_EVERY_S = 60.0

_forkserver_running = False  # whether this process has started the fork server, which stays up
_figures: dict[str, list[float]] = {}
_loaded = False  # whether the cache was read (or found missing): once per process
_last_here: dict[str, float] = {}  # the last figure of each key measured by this process
_written_at: float | None = None  # when this process last wrote the cache
_unwritten = False  # whether it holds figures the cache does not


def _threads_here() -> int:
    """Threads of this process, as the kernel counts them; 0 where it cannot tell."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def start_method() -> str:
    """How worker processes start now (see the module's docstring)."""
    chosen = os.environ.get(START_METHOD_VARIABLE)
    if not chosen and sys.platform == "linux" and _threads_here() == 1:
        return "fork"
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if chosen and chosen not in methods:
        raise ValueError(f"{START_METHOD_VARIABLE}={chosen!r}: choose from {', '.join(methods)}")
    return chosen or ("forkserver" if "forkserver" in methods else "spawn")


def start_kind(method: str) -> str:
    """What a start of ``method`` costs here: a fork server already running is a start of its own kind."""
    return "forkserver-live" if method == "forkserver" and _forkserver_running else method


def started(method: str) -> None:
    """Note that a pool of ``method`` has started (a fork server stays up after its first)."""
    global _forkserver_running
    _forkserver_running = _forkserver_running or method == "forkserver"


def cache_directory() -> str:
    """Where fileio keeps what it measured: ``$FILEIO_CACHE_DIR``, or ``fileio`` in ``$XDG_CACHE_HOME`` or
    ``~/.cache``."""
    configured = os.environ.get("FILEIO_CACHE_DIR")
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fileio")


def _path() -> str:
    key = f"{sys.executable}|{sys.version}".encode()
    return os.path.join(cache_directory(), f"costs-{zlib.crc32(key):08x}.txt")


def _load() -> dict[str, list[float]]:
    """The figures, read once per process: a line each, a key and its last measurements."""
    global _loaded
    if not _loaded:
        _loaded = True
        with suppress(OSError, ValueError), open(_path()) as file:
            for line in file:
                key, *values = line.split()
                _figures[key] = [float(value) for value in values]
    return _figures


def forget_measurements() -> None:
    """Start again from no figures, in this process and in the cache: for a benchmark that compares two
    versions of fileio, which must not decide from what each happened to learn before."""
    global _loaded
    _figures.clear()
    _last_here.clear()
    _loaded = True
    with suppress(OSError):
        os.remove(_path())


def median(values: list[float]) -> float:
    """The middle value (the upper of the two middle ones): ``statistics`` costs milliseconds to import."""
    return sorted(values)[len(values) // 2]


def _median(key: str) -> float | None:
    values = _load().get(key)
    return median(values) if values else None


def remember(key: str, value: float) -> None:
    """Keep a measurement of ``key`` (the last few are kept, on disk too: at once, unless this process wrote
    less than WRITE_EVERY_S ago; then at its next write or when it exits)."""
    global _unwritten
    figures = _load()
    figures[key] = [*figures.get(key, []), value][-KEPT:]
    _last_here[key] = value
    _unwritten = True
    if _written_at is None or monotonic() - _written_at >= WRITE_EVERY_S:
        _write()


def _write() -> None:
    """Write this process's figures to the cache."""
    global _written_at, _unwritten
    _written_at, _unwritten = monotonic(), False
    with suppress(OSError):
        path = _path()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}"
        with open(temporary, "w") as file:
            file.writelines(f"{name} {' '.join(map(repr, values))}\n" for name, values in _figures.items())
        os.replace(temporary, path)


@atexit.register
def _write_at_exit() -> None:
    """Write what is left unwritten (forked worker processes end with ``os._exit`` and never run this)."""
    if _unwritten:
        _write()


def last_measured_here(key: str) -> float | None:
    """The last figure of ``key`` that this process measured, not read from the cache: None before one."""
    return _last_here.get(key)


def expected_start(kind: str) -> float:
    """Seconds a new pool of ``kind`` (:func:`start_kind`, or "import") takes here to have a worker ready."""
    measured = _median(f"start:{kind}")
    return FIRST_GUESS_START_S[kind] if measured is None else measured


def gain_key(directory: str, workload: object, file_bytes: float, durability: str, workers: int) -> str:
    """What a speed-up depends on: the filesystem, the workload's kind (what making its bytes costs against
    writing them), the files' size (within a factor of 4), the durability and the number of helpers (auto adds
    their kind)."""
    size_class = max(0, int(file_bytes).bit_length() // 2)
    kind = type(workload).__qualname__
    return f"gain:{os.stat(directory).st_dev}:{kind}:{size_class}:{durability}:{workers}"


def figures(key: str) -> list[float]:
    """The last KEPT figures of ``key``, oldest first."""
    return list(_load().get(key, []))


def gain(key: str, first_guess: float) -> tuple[float, bool]:
    """How many times faster than the caller alone helpers saved here (:func:`gain_key`): the median of the
    last KEPT saves' figures and ``first_guess``, which counts as one more (one unlucky measurement cannot
    rule helpers out: the upper of two is taken; a second one confirming it can); and whether any save has
    measured it."""
    measured = _load().get(key, [])
    return median([*measured, first_guess]), bool(measured)
