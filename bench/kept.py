"""``auto``'s later saves in a running program, against a warm pool and two forked processes writing the same
bytes by hand: ``python -m bench.kept DIR``.

One process saves 4,000 files of 4 KiB (or ``--files``, ``--size``) again and again, in rounds: each round
runs the three in a random order, each into a fresh directory, and the table gives their medians and each
one's typical ratio to ``auto`` within a round. ``auto`` has saved once before the first round, so that its
workers are kept; the warm pool is started before the first round; the raw contender forks two processes
(``os.fork``) that each write their half with ``os.open``/``os.write``/``os.close``, and is timed from the
fork to the second ``waitpid``."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time

import fileio
from bench.stats import typical_ratio
from fileio.workloads import format_size, parse_size


def raw(directory: str, ids: list[int], workload: fileio.PayloadWorkload, processes: int = 2) -> None:
    """``processes`` forked processes, each writing its share of the files by hand."""
    children = []
    for part in range(processes):
        child = os.fork()
        if child == 0:
            status = 0
            try:
                for file_id in ids[part::processes]:
                    fd = os.open(
                        os.path.join(directory, workload.file_name(file_id)), os.O_WRONLY | os.O_CREAT, 0o644
                    )
                    os.write(fd, workload.data(file_id))
                    os.close(fd)
            except BaseException:
                status = 1
            os._exit(status)
        children.append(child)
    for child in children:
        _, status = os.waitpid(child, 0)
        if status:
            raise RuntimeError("a raw writer failed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.kept", description=__doc__.split("\n\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--files", type=int, default=4000)
    parser.add_argument("--size", type=parse_size, default=4096)
    args = parser.parse_args(argv)
    ids, workload = list(range(args.files)), fileio.PayloadWorkload(args.size)
    pool = fileio.WarmPool(2)
    pool.start()
    contenders = {
        "auto": lambda target: fileio.STRATEGIES["auto"](target, ids, workers=2, workload=workload),
        "warm_pool": lambda target: pool.save(target, ids, workload=workload),
        "raw forked x2": lambda target: raw(target, ids, workload),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with tempfile.TemporaryDirectory(dir=args.directory) as root:
        for warm_up in range(3):
            contenders["auto"](os.path.join(root, f"warm-up-{warm_up}"))
        for round_number in range(args.rounds):
            for name in random.sample(list(contenders), len(contenders)):
                target = os.path.join(root, f"{round_number}-{name}")
                os.mkdir(target)
                start = time.perf_counter()
                contenders[name](target)
                times[name].append(time.perf_counter() - start)
                shutil.rmtree(target)
    pool.close()
    print(f"{args.files} files of {format_size(args.size)}, {args.rounds} rounds, {args.directory}")
    for name, seconds in times.items():
        ratio = float(typical_ratio(times["auto"], seconds))
        median_ms = statistics.median(seconds) * 1000
        print(f"  {name:<16}{median_ms:>8.2f} ms   auto's speed / this one's: {1 / ratio:>5.2f}")


if __name__ == "__main__":
    main()
