"""The ceiling: how fast this machine makes each workload's bytes and writes files, with no fileio in the way.

Raw writes are a plain ``os.open``/``os.write``/(``os.fsync``)/``os.close`` loop over pre-made bytes, on
threads or worker processes that each take one contiguous chunk of the files; their start-up is not timed.
``fio``, where installed, gives an outside reference. Everything is written into fresh temporary directories
under the target directory and removed afterwards.
"""

from __future__ import annotations

import json
import multiprocessing.synchronize
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from time import perf_counter
from typing import Any

from fileio.bounded import split
from fileio.workload_protocol import Workload
from fileio.workloads import CsvWorkload, PayloadWorkload, format_size
from fileio.writer import CREATE_NEW, DURABILITIES, fsync_directory, open_directory

MECHANISMS = ("threads", "processes")
# Where the writers put their files: all in one directory, as fileio does, or each in a directory of its own
# (parallel creates in one directory share its lock; IO500 measures both).
LAYOUTS = ("shared", "per_worker")
PROBE_SIZES = (4 << 10, 256 << 10, 1 << 20)
GENERATION_FILES = 16  # files whose bytes each process makes, timed, for the ceiling
MEASURABLE_S = 0.005  # the least one process's GENERATION_FILES take for a capacity to be told
# The probe's file counts: enough for about ``seconds`` of one-thread writing, timed on growing batches first,
# with at least MIN_FILES and at most MAX_FILES files or MAX_BYTES bytes a run.
MIN_FILES = 16
MAX_FILES = 8192
MAX_BYTES = 128 << 20


@dataclass(frozen=True)
class _Gates:
    """How the caller times its writers: they meet it at ``ready``, then wait for ``go``, which it sets right
    after reading the clock (so the clock never starts late, whichever runs first), and meet it at ``ready``
    again when done."""

    ready: threading.Barrier
    go: threading.Event | multiprocessing.synchronize.Event


_process_gates: _Gates | None = None  # in a probe process: the gates it shares with the caller


@dataclass(frozen=True)
class Ceiling:
    """What bounds saving one job on one filesystem, measured without fileio: making the bytes on so many
    processes at once, and the best raw write of the job's files with at most so many threads or processes."""

    files: int
    size: int  # bytes per file (file 0's, for a CSV workload)
    # Concurrency -> wall seconds a file took to make, that many processes making files at once.
    generation_s: dict[int, float]
    raw_seconds: dict[int, float]  # concurrency -> best wall seconds over threads and processes
    warm_generation_s: float = (
        0.0  # seconds a file takes to make in the caller, warm: whether a capacity tells
    )

    def seconds(self, workers: int) -> float:
        """The least time ``workers`` workers could take: the larger of making every file's bytes on as many
        processes at once and the best raw write with at most ``workers`` threads or processes."""
        write = min(seconds for count, seconds in self.raw_seconds.items() if count <= workers)
        return max(self.generation_s[workers] * self.files, write)

    def capacity(self, workers: int) -> float | None:
        """How many times as fast ``workers`` processes made bytes as one: what this machine gave now (the
        host may give our cores less than their count); None where making them took too little to time (a
        payload's bytes: microseconds; a fresh process's first touches would be all that was timed)."""
        if self.warm_generation_s * GENERATION_FILES < MEASURABLE_S:
            return None
        return self.generation_s[1] / self.generation_s[workers]


def generation_seconds(workload: Workload, files: int = GENERATION_FILES) -> float:
    """Seconds one core takes to make one file's bytes: the mean over ids ``0 .. files - 1``."""
    start = perf_counter()
    for file_id in range(files):
        workload.data(file_id)
    return (perf_counter() - start) / files


def parallel_generation_seconds(workload: Workload, files: int, concurrency: int) -> float:
    """Wall seconds a file took to make, ``files`` files' bytes made on ``concurrency`` processes at once,
    each its contiguous share; their start-up is not timed."""
    chunks = split(list(range(files)), concurrency)
    pool, gates, _ = _probe_pool("processes", len(chunks))
    with pool:
        return _timed(gates, [pool.submit(_make_chunk, workload, chunk) for chunk in chunks]) / files


def _make_chunk(workload: Workload, ids: list[int]) -> None:
    """In a probe process: make the bytes of ``ids``, once the caller says go."""
    gates = _process_gates
    assert gates is not None, "a probe process gets its gates from _keep_gates"
    try:
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


def fio_command(directory: str, size: int, durability: str, files: int) -> list[str]:
    """The fio run beside :func:`raw_write_seconds` on one thread: ``files`` files of ``size`` bytes, one
    ``pwrite`` each, one file open at a time, fsync'd on close for "fsync"."""
    if durability not in ("none", "fsync"):
        raise ValueError(f"fio has no equivalent of durability {durability!r}: it cannot rename")
    command = [
        "fio", "--name=fileio-probe", f"--directory={directory}", "--rw=write", "--ioengine=psync",
        f"--nrfiles={files}", f"--filesize={size}", f"--size={files * size}", f"--bs={size}",
        "--file_service_type=sequential", "--openfiles=1", "--create_on_open=1", "--fallocate=none",
        "--unlink=1", "--output-format=json",
    ]  # fmt: skip
    return command + (["--fsync_on_close=1"] if durability == "fsync" else [])


def fio_files_per_s(
    directory: str | os.PathLike[str], size: int, durability: str, files: int
) -> float | None:
    """Files per second written by the :func:`fio_command` run in a fresh subdirectory of ``directory``;
    None when fio is not installed. RuntimeError carries fio's complaint when it fails."""
    if shutil.which("fio") is None:
        return None
    target = tempfile.mkdtemp(prefix=".fileio-fio-", dir=directory)
    try:
        done = subprocess.run(fio_command(target, size, durability, files), capture_output=True, text=True)
    finally:
        shutil.rmtree(target)
    if done.returncode != 0:
        raise RuntimeError(f"fio failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    write = json.loads(done.stdout)["jobs"][0]["write"]
    return float(write["io_bytes"] / size / (write["runtime"] / 1000))


def measure_ceiling(
    directory: str | os.PathLike[str],
    workload: Workload,
    files: int,
    durability: str,
    concurrencies: Iterable[int],
    repeats: int = 3,
) -> Ceiling:
    """A job's :class:`Ceiling` on ``directory``'s filesystem: for each concurrency (and 1), the best of
    ``repeats`` timings of making the bytes of GENERATION_FILES files per process on as many processes, and
    the best of ``repeats`` raw writes on threads and as many on processes."""
    size = len(workload.data(0))
    counts = sorted({1, *concurrencies})
    raw = {
        count: best_raw_seconds(directory, size, durability, files, count, MECHANISMS, repeats)
        for count in counts
    }
    generation = {
        count: min(
            parallel_generation_seconds(workload, min(files, GENERATION_FILES) * count, count)
            for _ in range(repeats)
        )
        for count in counts
    }
    return Ceiling(files, size, generation, raw, generation_seconds(workload, 2))


def probe_files(directory: str | os.PathLike[str], size: int, durability: str, seconds: float) -> int:
    """How many files make about ``seconds`` of one-thread writing: batches of MIN_FILES, 4 x as many, ...
    are timed until one takes a quarter of that (or the most allowed), and its rate is scaled up."""
    most = max(MIN_FILES, min(MAX_FILES, MAX_BYTES // max(size, 1)))
    files = MIN_FILES
    while (elapsed := raw_write_seconds(directory, size, durability, files)) < seconds / 4 and files < most:
        files = min(4 * files, most)
    return max(MIN_FILES, min(int(files * seconds / elapsed), most))


def _rate(files_per_s: float, size: int) -> str:
    return f"{files_per_s:>10.0f}{files_per_s * size / 1e6:>8.1f}"


def probe_report(directory: str | os.PathLike[str], seconds: float = 0.1, repeats: int = 3) -> Iterator[str]:
    """The table of ``python -m fileio probe DIR``, line by line as it is measured: each workload's cost to
    make one file on one core, then for each size and durability the raw write rate on 1 thread, on N threads
    and on N processes (N = CPUs) into one directory, on N processes into a directory each, and fio's on one
    thread beside. Each raw figure is the best of ``repeats`` runs of about ``seconds`` each; more of either
    is steadier."""
    cpus = os.cpu_count() or 1
    yield f"fileio probe of {directory}: {cpus} CPUs; each figure the best of {repeats} runs of ~{seconds:g}s"
    yield "making one file's bytes on one core:"
    workloads: list[tuple[str, Workload]] = [("csv (default)", CsvWorkload())]
    workloads += [(f"payload {format_size(size)}", PayloadWorkload(size)) for size in PROBE_SIZES]
    for name, workload in workloads:
        best = min(generation_seconds(workload) for _ in range(repeats))
        yield f"  {name:<24}{best * 1e3:>10.4f} ms/file"
    yield "writing pre-made bytes (os.open, os.write, [os.fsync,] os.close): files/s and MB/s"
    columns = ["1 thread", f"{cpus} threads", f"{cpus} processes", f"{cpus} procs, dir each", "fio, 1 job"]
    yield f"{'size':<8}{'durability':<12}{'files':>6}" + "".join(f"{column:>18}" for column in columns)
    fio_installed = shutil.which("fio") is not None
    for size in PROBE_SIZES:
        for durability in DURABILITIES:
            files = probe_files(directory, size, durability, seconds)
            cells = []
            for count, mechanism, layout in [
                (1, "threads", "shared"),
                (cpus, "threads", "shared"),
                (cpus, "processes", "shared"),
                (cpus, "processes", "per_worker"),
            ]:
                best = best_raw_seconds(
                    directory, size, durability, files, count, [mechanism], repeats, layout
                )
                cells.append(_rate(files / best, size))
            fio = None if durability == "atomic" else fio_files_per_s(directory, size, durability, files)
            if fio is not None:
                cells.append(_rate(fio, size))
            else:
                cells.append(f"{'n/a: no rename' if fio_installed else 'fio not installed':>18}")
            yield f"{format_size(size):<8}{durability:<12}{files:>6}" + "".join(cells)
