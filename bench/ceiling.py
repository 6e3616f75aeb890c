"""Each case's ceiling: the least time this machine could take for the case's job, measured by
``fileio.probe`` without fileio's strategies, once per run and filesystem, or reused from an earlier run's
saved JSON.

The probe exists from fileio API 2 on; with an older fileio (the CI gate measuring a parent commit) no case
has a ceiling and the tables have no efficiency column.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

import fileio
from bench import has_api
from bench.matrix import CPUS, Case, Job


def available() -> bool:
    """Whether the fileio being measured has the probe."""
    return has_api(2)


def machine() -> dict[str, object]:
    """What identifies this machine in a saved run's ``machine_info``: a ceiling is reused only on it."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"node": platform.node(), "cpu_count": CPUS, "memory_total": memory}


@cache
def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def _ceiling(entry: dict[str, Any]) -> fileio.Ceiling:
    saved = entry["ceiling"]
    raw = {int(count): float(seconds) for count, seconds in saved["raw_seconds"].items()}  # keys: JSON text
    return fileio.Ceiling(int(saved["files"]), int(saved["size"]), float(saved["generation_s_per_file"]), raw)


class Ceilings:
    """Every job's ceiling on the run's filesystem: reused from the newest saved run of this machine and
    filesystem that measured the job alike, else measured in ``root`` at the job's first case."""

    def __init__(
        self, root: Path, filesystem: str, concurrencies: tuple[int, ...], history: list[Path]
    ) -> None:
        self.root = root
        self.filesystem = filesystem
        self.concurrencies = concurrencies  # the run's pool sizes: each is measured on threads and processes
        self.history = history  # earlier runs, oldest first; empty to measure every ceiling anew
        self.entries: dict[str, dict[str, Any]] = {}  # job name -> {"measured_at", "ceiling"}, as saved
        self.origins: dict[str, str] = {}  # job name -> whether measured now or reused, for the table heading

    def seconds(self, case: Case) -> float:
        """The case's ceiling: its job's, at its pool size on this machine's CPUs."""
        job = case.job
        if job.name not in self.entries:
            self.entries[job.name] = self._reused(job) or self._measured(job)
        return _ceiling(self.entries[job.name]).seconds(case.workers, CPUS)

    def _measured(self, job: Job) -> dict[str, Any]:
        ceiling = fileio.measure_ceiling(
            self.root, job.workload, job.files, job.durability, self.concurrencies
        )
        self.origins[job.name] = "ceiling measured now"
        return {"measured_at": time.strftime("%Y-%m-%d %H:%M"), "ceiling": asdict(ceiling)}

    def _reused(self, job: Job) -> dict[str, Any] | None:
        for path in reversed(self.history):
            try:
                data = _load(path)
                entry = data["fileio"]["ceiling"][self.filesystem][job.name]
                ceiling = _ceiling(entry)
            except (OSError, ValueError, LookupError, TypeError, AttributeError):
                continue  # not a run of this suite with a ceiling for this job on this filesystem
            same_machine = all(
                data.get("machine_info", {}).get(key) == value for key, value in machine().items()
            )
            if (
                same_machine
                and ceiling.files == job.files
                and set(self.concurrencies) <= set(ceiling.raw_seconds)
            ):
                run = path.name.split("_")[0]
                self.origins[job.name] = f"ceiling reused from run {run}, measured {entry['measured_at']}"
                return dict(entry)
        return None

    def to_json(self) -> dict[str, Any]:
        """What the saved run keeps, for this run's tables and for later runs to reuse: filesystem -> job."""
        return {self.filesystem: self.entries}
