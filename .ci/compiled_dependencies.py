"""Exercise every compiled dependency that fileio and its benchmark suite install, each in a child
interpreter, and exit 1 naming any that crashes or fails. `.ci/run` runs it under `qemu-x86_64 -cpu max`, a
CPU without AVX-512, so that a wheel built for a newer CPU than our users' is caught before it lands.

Usage: python .ci/compiled_dependencies.py
"""

from __future__ import annotations

import signal
import subprocess
import sys

# What each dependency's native code does for us, in a few lines: import, then the calls we make.
EXERCISES = {
    "liburing": """
import errno
from fileio.strategies.io_uring import binding
liburing = binding()  # as fileio loads it
ring = liburing.io_uring()
try:
    liburing.io_uring_queue_init(2, ring)
except OSError as error:  # an emulator, seccomp or kernel.io_uring_disabled: the strategy says unavailable
    assert error.errno in (errno.ENOSYS, errno.EPERM), error
else:
    liburing.io_uring_queue_exit(ring)
""",
    "numpy": """
import numpy
values = numpy.random.default_rng(0).random(100_000)
assert numpy.sort(values)[0] == values.min() and values @ values > 0 and 0 < numpy.median(values) < 1
""",
    "scipy": """
import numpy
from scipy import stats
stats.bootstrap((numpy.arange(60.0),), numpy.median, n_resamples=500, method="BCa", random_state=0)
""",
    "matplotlib": """
import io, matplotlib
matplotlib.use("Agg")
from matplotlib import pyplot
figure, axes = pyplot.subplots()
axes.plot([1, 2, 4], [1, 3, 2])
figure.savefig(io.BytesIO(), format="png")
""",
    "msgpack": "import msgpack; assert msgpack.unpackb(msgpack.packb({'a': [1, 2.5]})) == {'a': [1, 2.5]}",
    "psutil": "import psutil; psutil.Process().memory_full_info(); psutil.cpu_count()",
    "yaml": "import yaml; assert yaml.load('a: [1, 2]', Loader=yaml.CSafeLoader) == {'a': [1, 2]}",
    "tornado": "import tornado.speedups",
    "distributed": "import distributed, distributed.protocol; distributed.protocol.serialize([1, b'x'])",
    "pygal": "import pygal; pygal.Line().render()",
}


def exercise(name: str, code: str) -> str | None:
    """Run ``code`` in a child interpreter; what went wrong, or None."""
    try:
        child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return "took over 600 s"
    if child.returncode < 0:
        return f"crashed with {signal.Signals(-child.returncode).name}"
    if child.returncode:
        return (child.stderr.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
    return None


def main() -> int:
    failed = 0
    for name, code in EXERCISES.items():
        problem = exercise(name, code)
        print(f"compiled dependency {name}: {problem or 'ok'}", flush=True)
        failed += problem is not None
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
