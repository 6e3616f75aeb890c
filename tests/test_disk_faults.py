"""A failing disk, as libfiu makes one: every strategy at every durability, saving again and again while the
C library's file calls fail at random (EIO and ENOSPC on write, short writes, EINTR, EIO on close and on
fsync), in the saving process and the workers it forks. No save may hang, raise anything but SaveError, leave
a wrong file unnamed, leave a temporary at atomic, or leave a process behind (``fault_cell.py`` says how)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import strategy_params

from fileio import DURABILITIES

TESTS = Path(__file__).resolve().parent
PRELOAD = "/usr/lib/fiu/fiu_posix_preload.so"
RUNS = 20  # saves per fault and cell: a fault at a random call, so each explores other interleavings
INSTALL = "apt-get install fiu-utils libfiu-dev"

pytestmark = pytest.mark.skipif(
    not os.path.exists(PRELOAD) and not os.environ.get("FILEIO_REQUIRE_LIBFIU"),
    reason=f"libfiu's POSIX preload is not installed ({INSTALL})",
)


@pytest.mark.parametrize("durability", DURABILITIES)
@pytest.mark.parametrize("strategy_name", strategy_params())
def test_a_failing_disk_breaks_no_promise(strategy_name: str, durability: str, tmp_path: Path) -> None:
    """Over RUNS saves per fault: each ends (saved, or SaveError) within its bound, and nothing is wrong."""
    assert os.path.exists(PRELOAD), f"FILEIO_REQUIRE_LIBFIU is set, and libfiu is missing: {INSTALL}"
    done = subprocess.run(
        [sys.executable, str(TESTS / "fault_cell.py"), strategy_name, durability, str(RUNS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "LD_PRELOAD": PRELOAD},
        cwd=TESTS,
    )
    assert done.returncode == 0, f"a save hung or the cell failed (exit {done.returncode}):\n{done.stderr}"
    report = json.loads(done.stdout)
    broken = {fault: cell["findings"] for fault, cell in report.items() if cell["findings"]}
    assert not broken, json.dumps(broken, indent=1)
    ended = {fault: cell["saved"] + cell["SaveError"] for fault, cell in report.items()}
    assert ended == dict.fromkeys(report, RUNS)
    # The faults were real: writes that fail fail some saves (at every durability). io_uring's writes are the
    # kernel's, out of a preload's reach: only its other calls (close, rename's neighbours) meet faults.
    if strategy_name != "io_uring":
        assert report["eio-write"]["SaveError"] > 0 and report["enospc-write"]["SaveError"] > 0
