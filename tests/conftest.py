"""Helpers for tests that need a fresh interpreter (resource limits, signals)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest


@pytest.fixture
def run_python():
    """Run a Python script in a fresh interpreter; returns the finished process (stdout, stderr as text)."""

    def run(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run
