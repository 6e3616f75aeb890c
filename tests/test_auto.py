"""auto's choice, from the timings of its first files: the model on known numbers, and a real save."""

from __future__ import annotations

from pathlib import Path

import pytest

from fileio import STRATEGIES, CsvWorkload, PayloadWorkload, verify
from fileio.strategies.auto import choose

KIB = 1024


@pytest.mark.parametrize(
    ("make_s", "write_s", "size", "durability", "workers", "expected"),
    [
        pytest.param(5e-3, 5e-5, 250 * KIB, "none", 2, ("process_batches", 2), id="cpu-bound-csv"),
        pytest.param(1e-6, 1e-5, 4 * KIB, "none", 2, ("sequential", 1), id="small-files-page-cache"),
        pytest.param(1e-5, 1e-4, 256 * KIB, "none", 4, ("threads", 2), id="large-files-page-cache"),
        pytest.param(1e-5, 1e-3, 64 * KIB, "atomic", 4, ("threads", 4), id="fsync-waits-overlap"),
        pytest.param(5e-3, 5e-5, 250 * KIB, "none", 1, ("sequential", 1), id="one-worker"),
    ],
)
def test_the_model_picks(
    make_s: float, write_s: float, size: int, durability: str, workers: int, expected
) -> None:
    """On a 2-CPU machine, 400 files left: processes when making the bytes dominates, threads when writes
    release the GIL (large files, fsync), one thread for small writes into the page cache."""
    choice = choose(make_s, write_s, size, 400, workers, durability, cpus=2)
    assert (choice.strategy.name, choice.workers) == expected


@pytest.mark.parametrize(
    "workload", [CsvWorkload(n_lines=200), PayloadWorkload(4096)], ids=["csv", "payload"]
)
def test_auto_saves_everything_exactly(workload, tmp_path: Path) -> None:
    report = STRATEGIES["auto"](tmp_path, range(50), workers=2, workload=workload, durability="atomic")
    assert report.files == 50
    verify(tmp_path, range(50), workload)
