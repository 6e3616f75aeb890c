"""Fixtures for the tests: each registered strategy in turn (skipped with the reason where it cannot run
here), a fresh interpreter, and a small tmpfs."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# What fileio measures and keeps (auto's figures, which strategies can run) goes to a cache of this test
# process's own, read by the interpreters it starts too: a developer's figures must not steer auto here, nor
# the tests' figures theirs.
os.environ["FILEIO_CACHE_DIR"] = tempfile.mkdtemp(prefix="fileio-test-cache-")
atexit.register(shutil.rmtree, os.environ["FILEIO_CACHE_DIR"], ignore_errors=True)

from helpers import kill_started_clis  # noqa: E402

from fileio import STRATEGIES, Strategy  # noqa: E402  # after the cache is chosen
from fileio.auto import kept  # noqa: E402


def strategy_params(processes_only: bool = False) -> list[object]:
    """A ``pytest.param`` per registered strategy (or per one that starts worker processes), skip-marked with
    the reason when it cannot run here."""
    return [
        pytest.param(name, id=name, marks=pytest.mark.skipif(bool(reason), reason=reason or ""))
        for name, strategy in STRATEGIES.items()
        if strategy.starts_processes or not processes_only
        for reason in [strategy.unavailable_reason]
    ]


@pytest.fixture(autouse=True)
def _no_cli_left_running() -> Iterator[None]:
    yield
    kill_started_clis()


@pytest.fixture(autouse=True)
def _no_kept_workers() -> Iterator[None]:
    """Each test starts without the worker processes an earlier one's ``auto`` kept (a test counts them)."""
    yield
    kept.close()


@pytest.fixture(params=strategy_params())
def strategy_name(request: pytest.FixtureRequest) -> str:
    """Each registered strategy's name in turn."""
    return request.param


@pytest.fixture(params=strategy_params(processes_only=True))
def process_strategy(request: pytest.FixtureRequest) -> str:
    """Each registered strategy that starts worker processes, by name."""
    return request.param


@pytest.fixture
def save(strategy_name: str) -> Strategy:
    """Each registered strategy in turn."""
    return STRATEGIES[strategy_name]


@pytest.fixture
def run_python() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run a Python script in a fresh interpreter; returns the finished process (stdout, stderr as text)."""

    def run(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a small tmpfs (root only): ``tmpfs(size="2m", read_only=False)`` returns its path."""
    mounted = []

    def mount(size: str = "2m", read_only: bool = False) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        options = f"size={size}" + (",ro" if read_only else "")
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], check=True)
