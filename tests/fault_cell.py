"""One strategy at one durability against a failing disk: run as a script under libfiu's POSIX preload
(``LD_PRELOAD=.../fiu_posix_preload.so``), it saves ``RUNS`` times per fault, each time with that fault
enabled at random calls of the C library, and prints one JSON object: per fault, how the saves ended and
every broken promise it found.

    python tests/fault_cell.py STRATEGY DURABILITY RUNS DIRECTORY

Faults are enabled through libfiu's own API (ctypes) just before each save and disabled just after it, in
this process, and so in the worker processes it forks during the save; the interpreter's start-up, imports
and the checks run without them. A warm-up save before any fault loads every module the save imports
lazily: a fault in an import (a .pyc's close) would be the interpreter's, not the save's. Each save is bounded
by an alarm, not a watchdog thread (a thread would make fileio start its workers from a fork server, out of
the faults' reach): past ``BOUND_S`` ``faulthandler`` dumps every thread's stack and SIGALRM ends the process,
which fails the cell as a hang.

The ``dask`` strategy runs on a LocalCluster started before the faults (starting one per save would take most
of a CI run); its worker processes get the same faults, enabled in them with ``Client.run``.

Findings, per save: an exception other than SaveError; a file under a final name whose id is not in
``failed_ids`` that differs from its bytes (a failed save cancels the rest: a missing file is not saved, not
wrong); at ``atomic``, any temporary left, or a file under a final name that is not complete; a process of the
save still running 5 s after it returned.
"""

from __future__ import annotations

import ctypes
import errno
import faulthandler
import json
import os
import shutil
import signal
import sys
import traceback
from pathlib import Path

from helpers import descendants, wait_until_gone

from fileio import STRATEGIES, PayloadWorkload, SaveError
from fileio.auto import kept
from fileio.writer import is_temporary

BOUND_S = 20  # one save: far above any save here (<1 s), far below the test's own timeout
PROBABILITY = 0.03  # of a faulted call failing: most saves of FILES files meet a fault or more
FILES, WORKERS = 40, 2
WORKLOAD = PayloadWorkload(4096)
# name: (failure points, errno) -- an errno of 0 for the points that take none
FAULTS = {
    "eio-write": (["posix/io/rw/write"], errno.EIO),
    "enospc-write": (["posix/io/rw/write"], errno.ENOSPC),
    "short-write": (["posix/io/rw/write/reduce"], 0),
    "eintr-write": (["posix/io/rw/write"], errno.EINTR),
    "eio-close": (["posix/io/oc/close"], errno.EIO),
    "eio-fsync": (["posix/io/sync/fsync", "posix/io/sync/fdatasync"], errno.EIO),
}


def _libfiu() -> ctypes.CDLL:
    fiu = ctypes.CDLL("libfiu.so.0")
    # fiu_enable_random(name, failnum, failinfo, flags, probability): failinfo is the errno to set
    fiu.fiu_enable_random.argtypes = [
        ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_float
    ]  # fmt: skip
    fiu.fiu_disable.argtypes = [ctypes.c_char_p]
    fiu.fiu_init(0)
    return fiu


def enable(fault: str) -> None:
    """Fail this process's calls at the fault's points, each with probability PROBABILITY."""
    fiu = _libfiu()
    points, code = FAULTS[fault]
    for point in points:
        fiu.fiu_enable_random(point.encode(), 1, code or None, 0, PROBABILITY)


def disable(fault: str) -> None:
    fiu = _libfiu()
    for point in FAULTS[fault][0]:
        fiu.fiu_disable(point.encode())


def findings(directory: Path, durability: str, failed: set[int]) -> list[str]:
    """What a save that ended (failing ``failed``) left wrong in ``directory``."""
    found = []
    names = {WORKLOAD.file_name(file_id): file_id for file_id in range(FILES)}
    present = {path.name: path for path in directory.iterdir()} if directory.is_dir() else {}
    for name, path in present.items():
        if is_temporary(name):
            if durability == "atomic":
                found.append(f"temporary left: {name}")
            continue
        if name not in names:
            found.append(f"unexpected file: {name}")
            continue
        complete = path.read_bytes() == WORKLOAD.data(names[name])
        if not complete and (durability == "atomic" or names[name] not in failed):
            found.append(f"wrong and unnamed: {name}" if names[name] not in failed else f"partial: {name}")
    return found


def save_once(name: str, durability: str, fault: str | None, directory: Path, before: set[int]) -> dict:
    """One save, with ``fault`` enabled during it; what it ended with, and what it left wrong."""
    strategy = STRATEGIES[name]
    signal.alarm(BOUND_S)
    if fault:
        enable(fault)
    try:
        strategy(directory, range(FILES), workers=WORKERS, workload=WORKLOAD, durability=durability)
        outcome, failed = "saved", set()
    except SaveError as error:
        outcome, failed = "SaveError", set(error.failed_ids)
    except BaseException as error:  # what the contract forbids is what this looks for
        frames = traceback.extract_tb(error.__traceback__)
        ours = [frame for frame in frames if "/fileio/" in frame.filename] or frames
        where = f"{ours[-1].filename}:{ours[-1].lineno}, {frames[-1].filename}:{frames[-1].lineno}"
        outcome = f"{type(error).__name__}: {error} (at {where})"
        failed = set(range(FILES))
    finally:
        if fault:
            disable(fault)
        kept.close()  # the workers auto keeps for a next save go, as at the program's exit: bounded too
        signal.alarm(0)
    found = findings(directory, durability, failed)
    if outcome not in ("saved", "SaveError"):
        found.append(f"raised {outcome}")
    left = wait_until_gone(lambda: descendants(os.getpid()) - before, timeout=5)
    if left:
        found.append(f"{len(left)} process(es) left running")
    return {"outcome": outcome, "findings": found}


def main() -> None:
    name, durability, runs, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    if name == "dask":
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, dashboard_address=None)
        client = Client(cluster)
        from fileio.strategies.dask_cluster import with_scheduler

        STRATEGIES["dask"] = with_scheduler(cluster.scheduler_address)
    faulthandler.register(signal.SIGALRM, all_threads=True, chain=True)  # then SIGALRM's default: the end
    save_once(name, durability, None, root / "warm-up", set())  # loads what the save imports lazily
    before = descendants(os.getpid())  # a cluster's, a fork server's: up before the faults, and after
    report: dict[str, dict] = {}
    for fault in FAULTS:
        cell = report[fault] = {"saved": 0, "SaveError": 0, "findings": []}
        for run in range(runs):
            directory = root / f"{fault}-{run}"
            print(f"{name} {durability}: {fault}, run {run}", file=sys.stderr, flush=True)  # before a hang
            if name == "dask":
                client.run(enable, fault)
            result = save_once(name, durability, fault, directory, before)
            if name == "dask":
                client.run(disable, fault)
            outcome = result["outcome"] if result["outcome"] in ("saved", "SaveError") else "other"
            cell[outcome] = cell.get(outcome, 0) + 1
            cell["findings"] += [f"run {run}: {finding}" for finding in result["findings"]]
            shutil.rmtree(directory, ignore_errors=True)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
