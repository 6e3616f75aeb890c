"""Shared test helpers: what a directory may hold after a failure; process trees, read from /proc."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path

from fileio import Workload


def assert_nothing_partial(directory: Path, workload: Workload, ids: Iterable[int]) -> None:
    """Every file under a final name is complete, nothing else is there, and no temporary file is left."""
    names = {workload.file_name(file_id): file_id for file_id in ids}
    for path in directory.iterdir():
        assert path.name in names, f"unexpected file (a temporary?): {path.name}"
        if path.is_file():
            assert path.read_bytes() == workload.data(names[path.name]), f"partial file: {path.name}"


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp, ...; None once it is gone."""
    try:
        return (Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1]).split()
    except (OSError, IndexError):
        return None


def _processes() -> dict[int, list[str]]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            found[int(entry.name)] = fields
    return found


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid``."""
    parents = {child: int(fields[1]) for child, fields in _processes().items() if fields[0] != "Z"}
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def worker_processes(pid: int) -> set[int]:
    """Descendants of ``pid`` doing the work: not the resource tracker, nor a fork server (has children)."""
    below = descendants(pid)
    parents = {int(fields[1]) for child, fields in _processes().items() if child in below}
    return {child for child in below - parents if "resource_tracker" not in _command_line(child)}


def bytes_written(pid: int) -> int:
    """What ``pid`` has written with write(2) and its kin, files and pipes alike (0 once it is gone)."""
    try:
        fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    except OSError:
        return 0
    return int(fields["wchar"])


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` still running (zombies count as gone)."""
    return {pid for pid in pids if (fields := _stat(pid)) is not None and fields[0] != "Z"}


def in_group(pgid: int) -> set[int]:
    """Living processes in process group ``pgid``."""
    return {pid for pid, fields in _processes().items() if fields[0] != "Z" and int(fields[2]) == pgid}


def wait_until_gone(find, timeout: float = 10) -> set[int]:
    """Poll ``find()`` until it returns nothing or ``timeout`` passes; returns what is left."""
    deadline = time.monotonic() + timeout
    while (left := find()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


started_clis: list[subprocess.Popen[str]] = []  # killed, with their groups, at the end of each test


def start_cli(*args: str) -> subprocess.Popen[str]:
    """``python -m fileio ARGS`` in a session of its own (its pid is its group's id), with Ctrl-C's default
    handling even where this test runner was started with SIGINT ignored (a background job)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fileio", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    started_clis.append(process)
    return process


def kill_started_clis() -> None:
    """Kill what :func:`start_cli` started and a failed test left running (a hang), workers included."""
    for process in started_clis:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()
    started_clis.clear()


def wait_for_files(directory: Path, count: int, process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait until ``directory`` holds ``count`` entries (or ``process`` ended)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if directory.is_dir() and len(os.listdir(directory)) >= count:
            return
        time.sleep(0.005)
