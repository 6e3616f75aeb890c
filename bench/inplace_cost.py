"""What checking a final name costs: ``sequential`` saves of two checkouts' fileio, side by side.

    python -m bench.inplace_cost OLD_CHECKOUT NEW_CHECKOUT [--rounds 21] [--dir /mnt/fast]

Each round runs both sides in a random order, each in a fresh process, on three jobs: 4 KiB x 4,000 at
``none`` into a new directory and over files already there, and 64 KiB x 1,000 at ``atomic`` into a new
directory. Prints each side's median and the median of the per-round ratios new/old (docs/safety.md).
"""

from __future__ import annotations

import argparse
import ast
import random
import statistics
import subprocess
import sys

CHILD = """
import os, shutil, sys, time
sys.path.insert(0, sys.argv[1])
from fileio import STRATEGIES, PayloadWorkload
out = {}
for name, size, files, durability in [("4KiB-none-new", 4096, 4000, "none"),
                                      ("4KiB-none-overwrite", 4096, 4000, "none"),
                                      ("64KiB-atomic-new", 65536, 1000, "atomic")]:
    target, workload = f"{sys.argv[2]}/inplace-cost-{os.getpid()}", PayloadWorkload(size)
    save = STRATEGIES["sequential"]
    if name.endswith("overwrite"):
        save(target, range(files), workers=1, workload=workload, durability=durability)
    started = time.perf_counter()
    save(target, range(files), workers=1, workload=workload, durability=durability)
    out[name] = time.perf_counter() - started
    shutil.rmtree(target)
print(out)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args()
    sides = {"old": args.old, "new": args.new}
    times: dict[str, dict[str, list[float]]] = {side: {} for side in sides}
    for _ in range(args.rounds):
        for side in random.sample(list(sides), len(sides)):
            command = [sys.executable, "-c", CHILD, sides[side], args.dir]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            for job, seconds in ast.literal_eval(done.stdout).items():
                times[side].setdefault(job, []).append(seconds)
    for job, old in times["old"].items():
        new = times["new"][job]
        ratio = statistics.median(n / o for n, o in zip(new, old, strict=True))
        print(
            f"{job}: old {statistics.median(old) * 1e3:.1f} ms, new {statistics.median(new) * 1e3:.1f} ms, "
            f"new/old per round {ratio:.3f}"
        )


if __name__ == "__main__":
    main()
