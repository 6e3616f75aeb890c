"""The requests the benchmark sends a runner (``bench/runner.py``), one JSON object each, typed.

A runner answers a ``SaveRequest`` with ``{"seconds", "files", "bytes"}``, a ``CeilingRequest`` with
``{"seconds": {workers: the ceiling}, "capacity": {workers: how many times as fast as one they made bytes}}``
and an ``AboutRequest`` with ``{"api", "source", "can_run", "python"}``; a failure with ``{"error": "..."}``.
"""

from __future__ import annotations

from typing import Literal, TypedDict


class SaveRequest(TypedDict):
    """One round of a case: ``kind`` "strategy" (``strategy`` on ``pool`` "new" or "kept") or "control"."""

    op: Literal["save"]
    kind: str
    strategy: str | None
    pool: str
    workers: int
    job: dict[str, object]  # bench.matrix.Job.spec()
    files: int
    durability: str
    directory: str
    forget: bool  # fileio first forgets what it measured in earlier saves (``forget_measurements``)


class CeilingRequest(TypedDict):
    """The job's ceiling at each of ``concurrencies`` workers, measured in ``directory``."""

    op: Literal["ceiling"]
    job: dict[str, object]
    files: int
    durability: str
    directory: str
    concurrencies: list[int]


class AboutRequest(TypedDict):
    """What the runner's fileio and Python are, and which strategies can run here."""

    op: Literal["about"]


Request = SaveRequest | CeilingRequest | AboutRequest
