"""``fileio probe``: how fast this machine makes each workload's bytes and writes files, with no fileio in
the way (:mod:`fileio.timed`), on one thread, N threads and N processes; ``fio``, where installed, beside as
an outside reference."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

from fileio.timed import best_raw_seconds, generation_seconds, raw_write_seconds
from fileio.workload_protocol import Workload
from fileio.workloads import CsvWorkload, PayloadWorkload, format_size
from fileio.writer import DURABILITIES

PROBE_SIZES = (4 << 10, 256 << 10, 1 << 20)
# The probe's file counts: enough for about ``seconds`` of one-thread writing, timed on growing batches first,
# with at least MIN_FILES and at most MAX_FILES files or MAX_BYTES bytes a run.
MIN_FILES = 16
MAX_FILES = 8192
MAX_BYTES = 128 << 20


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
