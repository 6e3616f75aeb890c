"""Whether an optional dependency can run here, found out without running it here first.

A native extension built for another CPU (AVX-512 instructions on a CPU without them) kills the interpreter
that loads it. So the dependency is loaded, and the strategy's own check run, in a child interpreter; a crash
there becomes the reason, and the caller goes on. The answer is cached in memory and on disk, per interpreter,
dependency build, kernel and CPU, so the child runs once per machine and install.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from pathlib import Path

from fileio.cache import cache_directory

CHECK_TIMEOUT_S = 120
CACHE_VERSION = 1

_CHILD = """
import importlib, json, resource, sys
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash here is an answer, not a core dump
requires, module, function = sys.argv[1:]
if module:  # the strategy's own check, which loads the dependency the way the strategy does
    print(json.dumps(getattr(importlib.import_module(module), function)()))
else:
    importlib.import_module(requires)
    print(json.dumps(None))
"""


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _built(module: str) -> list[object]:
    """Where ``module`` is installed and when its files last changed (a reinstall changes the answer): a
    package's own files, not its subpackages'."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return [None]
    folder = os.path.dirname(spec.origin) if spec.submodule_search_locations else None
    with suppress(OSError):
        # Not __pycache__, which the first import changes: the answer is of the installed files.
        files = (
            [entry.path for entry in os.scandir(folder) if entry.name != "__pycache__"]
            if folder
            else [spec.origin]
        )
        return [spec.origin, max(os.stat(path).st_mtime_ns for path in files)]
    return [spec.origin]


def _key(requires: str, check: str) -> str:
    """What the answer depends on: the interpreter, the dependency and our check as installed, the kernel
    (and whether io_uring is switched off), and the CPU's instruction sets."""
    cpu_flags = next((line for line in _read("/proc/cpuinfo").splitlines() if line.startswith("flags")), "")
    parts = [
        CACHE_VERSION,
        sys.executable,
        sys.version,
        requires,
        _built(requires),
        check,
        _built(check.partition(":")[0]) if check else None,
        os.uname().release,
        _read("/proc/sys/kernel/io_uring_disabled"),
        cpu_flags,
    ]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def _crash_reason(requires: str, returncode: int) -> str:
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if -returncode == signal.SIGILL:
        return (
            f"{requires}'s extension crashed ({name}): this build needs CPU instructions this machine lacks"
        )
    return f"loading {requires} crashed the interpreter ({name})"


def _run_child(requires: str, check: str, install: str) -> tuple[str | None, bool]:
    """Import ``requires`` and run ``check`` (``module:function``, or empty) in a child interpreter that sees
    what this one sees: its answer, or what went wrong (with ``install``, the remedy), as a reason; and
    whether that answer may be cached."""
    module, _, function = check.partition(":")
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path))
    try:
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, requires, module, function],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT_S,
            env=environment,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return f"checking {requires} took over {CHECK_TIMEOUT_S} s", False  # a busy machine: ask again
    if child.returncode < 0:
        return f"{_crash_reason(requires, child.returncode)}; {install}", True
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        last = (child.stderr.strip().splitlines() or [f"exit status {child.returncode}"])[-1]
        return f"{requires} could not be loaded ({last}); {install}", True
    reason = json.loads(lines[-1])
    return (None if reason is None else str(reason)), True


@cache
def isolated_reason(requires: str, check: Callable[[], str | None] | None, install: str) -> str | None:
    """Why ``requires`` cannot be used here, or None: it crashes or fails when imported, or when ``check`` (a
    module-level function that loads it) runs, and ``install`` is the remedy; or ``check`` gives a reason.
    From the cache when asked before."""
    target = f"{check.__module__}:{check.__qualname__}" if check is not None else ""
    path = Path(cache_directory()) / f"available-{_key(requires, target)}.json"
    with suppress(OSError, ValueError, KeyError):
        cached: str | None = json.loads(path.read_text())["reason"]
        return cached
    reason, cacheable = _run_child(requires, target, install)
    if not cacheable:
        return reason
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps({"requires": requires, "check": target, "reason": reason}))
        os.replace(temporary, path)
    return reason
