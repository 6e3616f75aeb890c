"""What each way of starting worker processes costs here: ``python -m bench.starts``.

For fork, forkserver and spawn, each measured in fresh interpreters as a script run once meets them: the
seconds to load fileio's pool machinery, to have the first of two workers ready and both ready (a fork server
starts first), and again for a second pool in the same process (a fork server is then running); and the
round trip of a task that does nothing, the per-task cost once running. Runs alternate between the methods;
the table gives medians. This is what :mod:`fileio.start` chooses between, and what ``auto`` weighs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

PROBE = """
import json, os, sys, time
began = time.perf_counter()
from fileio.pools import Workers
loaded = time.perf_counter() - began

def start():
    workers = Workers(2)
    began = time.perf_counter()
    workers.start()
    first = None
    while len(workers.ready) < 2:
        workers.news(None)
        first = first or time.perf_counter() - began
    return workers, first, time.perf_counter() - began

if __name__ == "__main__":
    workers, first, both = start()
    trips = []
    for _ in range(int(sys.argv[1])):
        began = time.perf_counter()
        workers.send(0, os.getpid)
        while not any(kind == "done" for _, kind, _ in workers.news(None)):
            pass
        trips.append(time.perf_counter() - began)
    workers.close()
    again, again_first, _ = start()
    again.close()
    trips.sort()
    print(json.dumps({"import": loaded, "first ready": first, "both ready": both,
                      "second pool, first ready": again_first, "task round trip": trips[len(trips) // 2]}))
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.starts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--trips", type=int, default=200)
    args = parser.parse_args(argv)
    methods = ["fork", "forkserver", "spawn"]
    results: dict[str, list[dict[str, float]]] = {method: [] for method in methods}
    for _ in range(args.runs):
        for method in methods:
            environment = dict(os.environ, FILEIO_START_METHOD=method)
            done = subprocess.run(
                [sys.executable, "-c", PROBE, str(args.trips)],
                capture_output=True,
                text=True,
                env=environment,
            )
            if done.returncode != 0:
                raise RuntimeError(f"{method}: {done.stderr.strip()[-2000:]}")
            results[method].append(json.loads(done.stdout))
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs; milliseconds, median of {args.runs} runs")
    columns = list(results["fork"][0])
    print(f"{'method':<12}" + "".join(f"{column:>26}" for column in columns))
    for method in methods:
        cells = [statistics.median(run[column] for run in results[method]) * 1e3 for column in columns]
        print(f"{method:<12}" + "".join(f"{cell:>26.2f}" for cell in cells))


if __name__ == "__main__":
    main()
