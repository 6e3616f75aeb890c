"""Work timed on N threads or processes at once, with no fileio in the way: raw writes of pre-made bytes (a
plain ``os.open``/``os.write``/(``os.fsync``)/``os.close`` loop) and the making of a workload's bytes. Each
thread or process takes one contiguous chunk of the files; their start-up is not timed. Files are written into
fresh temporary directories under the target directory and removed afterwards."""

from __future__ import annotations

import multiprocessing.synchronize
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from fileio.bounded import split
from fileio.workload_protocol import Workload
from fileio.writer import CREATE_NEW, DURABILITIES, fsync_directory, open_directory

MECHANISMS = ("threads", "processes")
# Where the writers put their files: all in one directory, as fileio does, or each in a directory of its own
# (parallel creates in one directory share its lock; IO500 measures both).
LAYOUTS = ("shared", "per_worker")
GENERATION_FILES = 16  # files whose bytes each process makes, timed (for the ceiling, and the probe's table)


@dataclass(frozen=True)
class _Gates:
    """How the caller times its writers: they meet it at ``ready``, then wait for ``go``, which it sets right
    after reading the clock (so the clock never starts late, whichever runs first), and meet it at ``ready``
    again when done."""

    ready: threading.Barrier
    go: threading.Event | multiprocessing.synchronize.Event


_process_gates: _Gates | None = None  # in a probe process: the gates it shares with the caller


def generation_seconds(workload: Workload, files: int = GENERATION_FILES) -> float:
    """Seconds one core takes to make one file's bytes: the mean over ids ``0 .. files - 1``."""
    start = perf_counter()
    for file_id in range(files):
        workload.data(file_id)
    return (perf_counter() - start) / files


def parallel_generation_seconds(workload: Workload, files: int, concurrency: int) -> float:
    """Wall seconds a file took to make, ``files`` files' bytes made on ``concurrency`` processes at once,
    each its contiguous share; their start-up is not timed, nor a first file each makes before."""
    chunks = split(list(range(files)), concurrency)
    pool, gates, _ = _probe_pool("processes", len(chunks))
    with pool:
        return _timed(gates, [pool.submit(_make_chunk, workload, chunk) for chunk in chunks]) / files


def _make_chunk(workload: Workload, ids: list[int]) -> None:
    """In a probe process: make the bytes of ``ids``, once the caller says go."""
    gates = _process_gates
    assert gates is not None, "a probe process gets its gates from _keep_gates"
    try:
        workload.data(ids[0])  # untimed, as the save's own processes have: first calls, first memory touched
        gates.ready.wait()
        gates.go.wait()
        for file_id in ids:
            workload.data(file_id)
        gates.ready.wait()
    except threading.BrokenBarrierError:
        pass  # another process failed: the caller raises its error
    except BaseException:
        gates.ready.abort()
        raise


def _timed(gates: _Gates, done: list[Any], after: Callable[[], None] | None = None) -> float:
    """Wall seconds from every task being ready to the last one done (and ``after``, timed too); a task's
    error is raised."""
    elapsed = 0.0
    with suppress(threading.BrokenBarrierError):  # a task failed: future.result() raises its error
        gates.ready.wait()
        start = perf_counter()
        gates.go.set()
        gates.ready.wait()
        if after is not None:
            after()
        elapsed = perf_counter() - start
    for future in done:
        future.result()
    return elapsed


def _keep_gates(gates: _Gates) -> None:
    global _process_gates
    _process_gates = gates


def _write_chunk(
    target: str, size: int, durability: str, ids: list[int], gates: _Gates | None = None
) -> None:
    """In a probe thread or process: write pre-made bytes to one file per id, once the caller says go."""
    gates = gates or _process_gates
    assert gates is not None, "a probe process gets its gates from _keep_gates"
    data = os.urandom(size)
    # By name relative to the directory's descriptor, never through a symbolic link, as fileio writes; in
    # place with a plain O_TRUNC (fileio checks what it opened first: part of what it costs).
    flags = CREATE_NEW if durability == "atomic" else (CREATE_NEW & ~os.O_EXCL) | os.O_TRUNC
    dir_fd = -1
    try:
        dir_fd = open_directory(target)
        gates.ready.wait()
        gates.go.wait()
        for file_id in ids:
            _write_one(dir_fd, f"f{file_id}", data, durability, flags)
        gates.ready.wait()
    except threading.BrokenBarrierError:
        pass  # another writer failed: the caller raises its error
    except BaseException:
        gates.ready.abort()  # the caller and the other writers stop waiting
        raise
    finally:
        if dir_fd >= 0:
            os.close(dir_fd)


def _write_one(dir_fd: int, final: str, data: bytes, durability: str, flags: int) -> None:
    """Write ``data`` to ``final`` in the directory, as ``durability`` says."""
    name = f"{final}.tmp" if durability == "atomic" else final
    fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if durability != "none":
            os.fsync(fd)
    finally:
        os.close(fd)
    if name != final:
        os.replace(name, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def _check_raw(size: int, durability: str, files: int, concurrency: int, mechanism: str, layout: str) -> None:
    """ValueError naming what :func:`raw_write_seconds` cannot take."""
    if durability not in DURABILITIES or mechanism not in MECHANISMS or layout not in LAYOUTS:
        raise ValueError(
            f"durability must be one of {DURABILITIES}, mechanism one of {MECHANISMS} and layout one of "
            f"{LAYOUTS}; got {durability!r}, {mechanism!r}, {layout!r}"
        )
    if files < 1 or concurrency < 1 or size < 0:
        raise ValueError(
            f"need files >= 1, concurrency >= 1 and size >= 0, got {files}, {concurrency}, {size}"
        )


def raw_write_seconds(
    directory: str | os.PathLike[str],
    size: int,
    durability: str,
    files: int,
    concurrency: int = 1,
    mechanism: str = "threads",
    layout: str = "shared",
) -> float:
    """Wall seconds to write ``files`` files of ``size`` pre-made bytes into a fresh subdirectory of
    ``directory`` (removed afterwards) on ``concurrency`` threads or processes (``mechanism``); with
    ``layout="per_worker"`` each thread or process writes into a directory of its own below it.

    ``durability``: "none" (the page cache), "fsync" (each file fsync'd, the directory once at the end) or
    "atomic" (a temporary name, fsync, ``os.replace``, the directory fsync'd once at the end). The clock runs
    from the moment every thread or process is ready to the moment the last one is done.
    """
    _check_raw(size, durability, files, concurrency, mechanism, layout)
    chunks = split(list(range(files)), concurrency)
    target = tempfile.mkdtemp(prefix=".fileio-probe-", dir=directory)
    targets = [target] * len(chunks)
    if layout == "per_worker":
        targets = [os.path.join(target, f"w{index}") for index in range(len(chunks))]
        for path in targets:
            os.mkdir(path)
    try:
        pool, gates, passed = _probe_pool(mechanism, len(chunks))
        with pool:
            done = [
                pool.submit(_write_chunk, path, size, durability, chunk, *passed)
                for path, chunk in zip(targets, chunks, strict=True)
            ]

            def fsync_directories() -> None:
                if durability != "none":
                    for path in sorted(set(targets)):
                        fsync_directory(path)

            return _timed(gates, done, fsync_directories)
    finally:
        shutil.rmtree(target)


def _probe_pool(mechanism: str, count: int) -> tuple[Executor, _Gates, list[_Gates]]:
    """``count`` threads or processes, the gates they start and end by, and what a task is passed of them
    (processes get them as they start, through the initializer: the only way synchronisation objects reach
    them)."""
    if mechanism == "threads":
        gates = _Gates(threading.Barrier(count + 1), threading.Event())
        return ThreadPoolExecutor(count), gates, [gates]
    from fileio.pools import context
    from fileio.start import start_method

    chosen = context(start_method())
    gates = _Gates(chosen.Barrier(count + 1), chosen.Event())
    return (
        ProcessPoolExecutor(count, mp_context=chosen, initializer=_keep_gates, initargs=(gates,)),
        gates,
        [],
    )


def best_raw_seconds(
    directory: str | os.PathLike[str],
    size: int,
    durability: str,
    files: int,
    concurrency: int,
    mechanisms: Iterable[str],
    repeats: int,
    layout: str = "shared",
) -> float:
    """The least of :func:`raw_write_seconds` over ``repeats`` runs on each of ``mechanisms``."""
    return min(
        raw_write_seconds(directory, size, durability, files, concurrency, mechanism, layout)
        for mechanism in mechanisms
        for _ in range(repeats)
    )
