"""One side of a measurement, in an interpreter of its own: it saves what the benchmark asks and says how long
that took. Run as a script by its path, so that the fileio it imports is the first on PYTHONPATH: this
checkout's, or the parent commit's when CI gates a change (both sides then run in the same sweeps).

- Warm: ``python bench/runner.py`` answers one JSON request a line on stdin with one JSON line, keeping its
  interpreter, imports and warm pools between requests, as a long-running program does.
- Cold: ``python bench/runner.py REQUEST`` does one request and exits; the benchmark times the whole process,
  from the interpreter's start to its exit, as a script run once pays it.

The requests and their answers: ``bench/protocol.py``.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from time import perf_counter
from typing import Any

import control  # type: ignore[import-not-found]  # beside this script: plain code, no fileio, so that a cold control pays no fileio import

TYPE_CHECKING = False
if TYPE_CHECKING:
    from bench.protocol import AboutRequest, CeilingRequest, Request, SaveRequest

CPUS = os.cpu_count() or 1


def workload(spec: dict[str, Any]) -> Any:
    """The fileio workload a job's spec describes."""
    import fileio

    if spec["kind"] == "csv":
        return fileio.CsvWorkload(spec["n_lines"], spec["n_values"])
    if spec["kind"] == "payload":
        return fileio.PayloadWorkload(spec["size"])
    return fileio.load_workload(spec["factory"])


class Runner:
    """Answers requests; keeps a warm pool per worker count for the cases on a kept pool."""

    def __init__(self) -> None:
        self.pools: dict[int, Any] = {}

    def answer(self, request: Request) -> dict[str, Any]:
        try:
            if request["op"] == "save":
                return self.save(request)
            if request["op"] == "ceiling":
                return self.ceiling(request)
            return self.about(request)
        except BaseException as error:  # noqa: BLE001  # the benchmark reports it, naming the case
            return {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}

    def about(self, request: AboutRequest) -> dict[str, Any]:
        """This side's fileio: its API, where it is, which of its strategies can run here, and its Python."""
        import platform  # here: a cold round's runner never asks, and should not pay for them
        import sysconfig

        import fileio

        can_run = {}
        for name, strategy in fileio.STRATEGIES.items():
            try:
                can_run[name] = strategy.unavailable_reason is None
            except Exception:  # noqa: BLE001  # an older fileio whose check itself fails: it cannot run
                can_run[name] = False
        return {
            "api": getattr(fileio, "API_VERSION", 0),
            "source": os.path.dirname(fileio.__file__),
            "can_run": can_run,
            "python": {
                "executable": sys.executable,
                "version": platform.python_version(),
                "implementation": platform.python_implementation(),
                "free_threaded_build": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
                "gil_enabled": getattr(sys, "_is_gil_enabled", lambda: True)(),
            },
        }

    def save(self, request: SaveRequest) -> dict[str, Any]:
        if request["forget"]:
            from fileio.auto.figures import forget_measurements

            forget_measurements()
        ids, directory, durability = range(request["files"]), request["directory"], request["durability"]
        workers, spec = request["workers"], request["job"]
        if request["kind"] == "control":
            made = control.ControlWorkload(**spec)
            start = perf_counter()
            report = control.save(directory, ids, made, durability)
        elif request["pool"] == "kept":  # started before the clock, at the case's warm-up round
            import fileio

            made = workload(spec)
            if workers not in self.pools:
                self.pools[workers] = fileio.WarmPool(workers)
                self.pools[workers].start()
            start = perf_counter()
            report = self.pools[workers].save(directory, ids, workload=made, durability=durability)
        else:
            import fileio

            made, save = workload(spec), fileio.STRATEGIES[str(request["strategy"])]
            start = perf_counter()
            report = save(directory, ids, workers=workers, workload=made, durability=durability)
        return {"seconds": perf_counter() - start, "files": report.files, "bytes": report.bytes}

    def ceiling(self, request: CeilingRequest) -> dict[str, Any]:
        concurrencies = request["concurrencies"]
        from fileio.ceiling import measure_ceiling  # asked of this checkout's side only (bench.sweep)

        measured = measure_ceiling(
            request["directory"], workload(request["job"]), request["files"], request["durability"],
            concurrencies, repeats=1,
        )  # fmt: skip
        return {
            "seconds": {str(count): measured.seconds(count) for count in concurrencies},
            "capacity": {str(count): measured.capacity(count) for count in concurrencies},
        }

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()


def main() -> int:
    runner = Runner()
    if len(sys.argv) > 1:  # cold: one request, then exit
        answer = runner.answer(json.loads(sys.argv[1]))
        runner.close()
        print(json.dumps(answer), flush=True)
        return 1 if "error" in answer else 0
    try:
        for line in sys.stdin:
            print(json.dumps(runner.answer(json.loads(line))), flush=True)
    finally:
        runner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
