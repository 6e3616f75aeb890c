"""fileio against what a user writes by hand, as scripts run once: ``python -m bench.peers DIR``.

Every contender is a small script, run in a fresh interpreter that is timed from start to exit, as the classic
tutorial timed whole scripts: its imports, its pool's start-up and its writes all count. The peers write the
same bytes under the same names as fileio does, with ``open(...).write``, and import nothing of fileio. Each
round runs the jobs in a random order, and each job's contenders back to back in a random order, so that a
drifting disk or a busy neighbour spreads over all of them and a round's contenders of one job see the same
machine. The table gives each contender's median, and its time against the best peer's and fileio's best's
(the contenders with the lowest medians) as the typical ratio within a round, as in the bench's tables
(:func:`bench.stats.typical_ratio`): a contender's own rounds spread widely on a shared machine, which ratios
of medians would carry into the comparison.
Peers whose library is not installed (joblib, mpire) are left out, and the table says so. Each contender first
runs once untimed, which compiles its bytecode (into a directory of this run, as an installed package has it);
fileio's figures, what ``auto`` learns, start empty in every run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from bench.matrix import Job
from bench.stats import typical_ratio

# The bytes, as fileio's CsvWorkload and PayloadWorkload make them, and at the same cost (making 256 KiB by
# slicing a longer repeat made the loop peer take 0.45 s for 1,000 files on a tmpfs, and 0.15-0.20 s this
# way), for the peers that must not import fileio. tests/test_peers.py checks the bytes.
PRELUDE = """
import os, random, sys
KIND, TARGET = sys.argv[1], sys.argv[5]
COUNT, SIZE, WORKERS = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
PATTERN = random.Random(0).randbytes(4096)

def data(file_id):
    if KIND == "csv":
        lines = [",".join([str(file_id + i + j) for j in range(10)]) for i in range(5000)]
        return "\\n".join(lines).encode("ascii")
    block = (file_id % 2**64).to_bytes(8, "little") + PATTERN[8:]
    repeats, rest = divmod(SIZE, 4096)
    return block * repeats + block[:rest]

def save(file_id):
    name = f"data-{file_id:04d}.{'csv' if KIND == 'csv' else 'bin'}"
    with open(os.path.join(TARGET, name), "wb") as file:
        return file.write(data(file_id))

CHUNK = max(1, COUNT // (WORKERS * 8))
"""

FILEIO = """
import sys
import fileio
KIND, TARGET = sys.argv[1], sys.argv[5]
COUNT, SIZE, WORKERS = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if __name__ == "__main__":
    workload = fileio.CsvWorkload() if KIND == "csv" else fileio.PayloadWorkload(SIZE)
    fileio.STRATEGIES[{strategy!r}](TARGET, range(COUNT), workers=WORKERS, workload=workload)
"""

PEERS = {
    "loop": "for file_id in range(COUNT):\n    save(file_id)\n",
    "mp.Pool fork imap_unordered": (
        "import multiprocessing\n"
        "if __name__ == '__main__':\n"
        "    with multiprocessing.get_context('fork').Pool(WORKERS) as pool:\n"
        "        for _ in pool.imap_unordered(save, range(COUNT), chunksize=CHUNK): pass\n"
    ),
    "ProcessPoolExecutor.map": (
        "from concurrent.futures import ProcessPoolExecutor\n"
        "if __name__ == '__main__':\n"
        "    with ProcessPoolExecutor(WORKERS) as pool:\n"
        "        for _ in pool.map(save, range(COUNT), chunksize=CHUNK): pass\n"
    ),
    "ThreadPoolExecutor.map": (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "with ThreadPoolExecutor(WORKERS) as pool:\n"
        "    for _ in pool.map(save, range(COUNT)): pass\n"
    ),
    "joblib": (
        "from joblib import Parallel, delayed\n"
        "if __name__ == '__main__':\n"
        "    Parallel(n_jobs=WORKERS)(delayed(save)(file_id) for file_id in range(COUNT))\n"
    ),
    "mpire": (
        "from mpire import WorkerPool\n"
        "if __name__ == '__main__':\n"
        "    with WorkerPool(n_jobs=WORKERS) as pool:\n"
        "        pool.map_unordered(save, range(COUNT), chunk_size=CHUNK)\n"
    ),
}
NEEDS = {"joblib": "joblib", "mpire": "mpire"}
FILEIO_STRATEGIES = ("sequential", "threads", "process_batches", "processes", "auto")


JOBS = {  # the benchmark's jobs (bench.matrix.Job), written without durability
    "csv": Job.csv(200, "none"),
    "4k": Job.payload(4096, 4000, "none"),
    "256k": Job.payload(256 << 10, 1000, "none"),
}


@dataclass(frozen=True)
class Contender:
    name: str
    is_fileio: bool
    source: str


def contenders(strategies: list[str], peers: list[str]) -> tuple[list[Contender], list[str]]:
    """The contenders to run, and the peers left out because their library is missing."""
    chosen = [Contender(f"fileio {name}", True, FILEIO.format(strategy=name)) for name in strategies]
    missing = []
    for name, body in ((name, PEERS[name]) for name in peers):
        if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
            missing.append(name)
        else:
            chosen.append(Contender(name, False, PRELUDE + body))
    return chosen, missing


def run_once(script: str, job: Job, workers: int, parent: str, environment: dict[str, str]) -> float:
    """Wall seconds of one fresh interpreter running ``script`` on ``job`` into a new directory."""
    target = tempfile.mkdtemp(prefix="peer-", dir=parent)
    command = [sys.executable, script, job.kind, str(job.files), str(job.size), str(workers), target]
    try:
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=environment)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{script} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        if len(os.listdir(target)) != job.files:
            raise RuntimeError(f"{script} wrote {len(os.listdir(target))} of {job.files} files")
        return elapsed
    finally:
        shutil.rmtree(target)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="where the files go (each run in a fresh subdirectory)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--jobs", nargs="+", choices=JOBS, default=list(JOBS))
    parser.add_argument("--strategies", nargs="+", default=list(FILEIO_STRATEGIES))
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=list(PEERS))
    args = parser.parse_args(argv)
    chosen, missing = contenders(args.strategies, args.peers)
    times = measure(chosen, args.jobs, args.rounds, args.workers, args.directory)
    print(
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, workers={args.workers}, {args.directory}; "
        f"median of {args.rounds} fresh processes each, whole-process seconds; X / this: the typical ratio "
        "within a round (their geometric mean without the top and bottom 20%)"
    )
    if missing:
        print(f"left out (not installed): {', '.join(missing)}")
    for job in args.jobs:
        print(f"\n{JOBS[job].label} x{JOBS[job].files:,}")
        print("\n".join(job_lines(chosen, {c.name: times[job, c.name] for c in chosen})))


def measure(
    chosen: list[Contender], jobs: list[str], rounds: int, workers: int, directory: str
) -> dict[tuple[str, str], list[float]]:
    """Each contender's seconds on each job, round by round, in a random order."""
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="peers-scripts-") as scripts:
        # Every contender imports compiled bytecode, as installed packages do, also where
        # PYTHONDONTWRITEBYTECODE is set: compiled into this directory by an untimed first run each. fileio's
        # figures (what auto learns) start empty here, and the user's are left alone.
        environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        environment["PYTHONPYCACHEPREFIX"] = os.path.join(scripts, "bytecode")
        environment["FILEIO_CACHE_DIR"] = os.path.join(scripts, "fileio-cache")
        paths = {}
        for index, contender in enumerate(chosen):
            paths[contender.name] = os.path.join(scripts, f"contender_{index}.py")
            with open(paths[contender.name], "w") as file:
                file.write(contender.source)
            run_once(paths[contender.name], JOBS["4k"], workers, directory, environment)
        for round_number in range(rounds):
            for job in random.sample(jobs, len(jobs)):
                for contender in random.sample(chosen, len(chosen)):
                    seconds = run_once(paths[contender.name], JOBS[job], workers, directory, environment)
                    times.setdefault((job, contender.name), []).append(seconds)
            print(f"round {round_number + 1}/{rounds} done", file=sys.stderr)
    return times


def job_lines(chosen: list[Contender], times: dict[str, list[float]]) -> list[str]:
    """One job's table: each contender's median and spread, against the best peer's and fileio's best's."""
    medians = {name: statistics.median(seconds) for name, seconds in times.items()}
    best_peer = min((c.name for c in chosen if not c.is_fileio), key=medians.__getitem__)
    best_fileio = min((c.name for c in chosen if c.is_fileio), key=medians.__getitem__)
    lines = []
    for contender in sorted(chosen, key=lambda c: medians[c.name]):
        mine = times[contender.name]
        against_peer = float(typical_ratio(times[best_peer], mine))
        against_fileio = float(typical_ratio(times[best_fileio], mine))
        lines.append(
            f"  {contender.name:<30}{medians[contender.name]:>8.3f} s  ({min(mine):.3f}-{max(mine):.3f})   "
            f"best peer / this {against_peer:>5.2f}   fileio's best / this {against_fileio:>5.2f}"
        )
    return lines


if __name__ == "__main__":
    main()
