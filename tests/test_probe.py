"""The probe (fileio/probe.py), raw writes on real files (fileio/timed.py), the ceiling model
(fileio/ceiling.py), the report, fio beside."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fileio import DURABILITIES, CsvWorkload, PayloadWorkload, timed
from fileio.ceiling import Ceiling, measure_ceiling
from fileio.probe import fio_files_per_s, probe_report
from fileio.timed import generation_seconds, raw_write_seconds

ROWS = [(size, durability) for size in ("4KiB", "256KiB", "1MiB") for durability in DURABILITIES]
QUICK_REPORT = (
    "import sys\nfrom fileio.probe import probe_report\nprint(*probe_report(sys.argv[1], 0.01, 1), sep='\\n')"
)


def report_rows(text: str) -> dict[tuple[str, str], str]:
    """The report's raw-write rows by (size, durability)."""
    return {key: line for line in text.splitlines() if (key := tuple(line.split()[:2])) in ROWS}


@pytest.mark.parametrize("mechanism", timed.MECHANISMS)
@pytest.mark.parametrize("durability", DURABILITIES)
def test_raw_writes_make_the_files_then_remove_them(
    durability: str, mechanism: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file has the asked size under its final name, no temporary is left, and nothing stays after."""
    seen: dict[str, int] = {}
    remove = shutil.rmtree

    def look_then_remove(path: str) -> None:
        seen.update({entry.name: entry.stat().st_size for entry in os.scandir(path)})
        remove(path)

    monkeypatch.setattr(timed.shutil, "rmtree", look_then_remove)
    seconds = raw_write_seconds(tmp_path, 1000, durability, 5, concurrency=2, mechanism=mechanism)
    assert seconds > 0
    assert seen == {f"f{file_id}": 1000 for file_id in range(5)}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mechanism", timed.MECHANISMS)
def test_a_writer_error_reaches_the_caller(mechanism: str, tmpfs) -> None:
    """A full disk in a writer thread or process raises its OSError in the caller; nothing is left behind."""
    full = tmpfs("1m")
    with pytest.raises(OSError, match="No space left"):
        raw_write_seconds(full, 256 << 10, "none", 16, concurrency=2, mechanism=mechanism)
    assert list(full.iterdir()) == []


@pytest.mark.parametrize("mechanism", timed.MECHANISMS)
def test_a_directory_per_writer(mechanism: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """layout="per_worker": each writer's contiguous chunk of files lands in a directory of its own."""
    seen: dict[str, list[str]] = {}
    remove = shutil.rmtree

    def look_then_remove(path: str) -> None:
        seen.update({os.path.relpath(top, path): sorted(names) for top, _, names in os.walk(path)})
        remove(path)

    monkeypatch.setattr(timed.shutil, "rmtree", look_then_remove)
    raw_write_seconds(tmp_path, 100, "atomic", 5, concurrency=2, mechanism=mechanism, layout="per_worker")
    assert seen == {".": [], "w0": ["f0", "f1", "f2"], "w1": ["f3", "f4"]}
    assert list(tmp_path.iterdir()) == []


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="durability"):
        raw_write_seconds(tmp_path, 10, "sync", 1)
    with pytest.raises(ValueError, match="concurrency"):
        raw_write_seconds(tmp_path, 10, "none", 1, concurrency=0)
    with pytest.raises(ValueError, match="layout one of"):
        raw_write_seconds(tmp_path, 10, "none", 1, layout="nested")
    assert list(tmp_path.iterdir()) == []


def test_the_ceiling_model_on_known_numbers() -> None:
    """The larger of making the bytes on ``workers`` processes at once, as measured, and the best raw write
    with at most ``workers``; the capacity is what the processes gave against one."""
    # Two processes made bytes 1.6x as fast as one (a host that gives our second core less), four no faster.
    generation = {1: 0.01, 2: 0.01 / 1.6, 4: 0.01 / 1.6}
    slow_to_make = Ceiling(
        files=100,
        size=1,
        generation_s=generation,
        raw_seconds={1: 0.5, 2: 0.3, 4: 0.35},
        warm_generation_s=0.01,
    )
    assert slow_to_make.seconds(workers=1) == pytest.approx(1.0)  # 100 x 10 ms on one core
    assert slow_to_make.seconds(workers=2) == pytest.approx(1.0 / 1.6)  # measured, not 0.5
    assert slow_to_make.seconds(workers=4) == pytest.approx(1.0 / 1.6)
    assert slow_to_make.capacity(2) == pytest.approx(1.6) and slow_to_make.capacity(1) == 1.0
    # Bytes made in microseconds in the caller: a fresh process's first touches are all its timing would
    # hold (a minimal root read 14.8x for a 4 KiB payload), so no capacity is told.
    first_touches = Ceiling(
        files=6, size=4096, generation_s={1: 4e-4, 2: 2.7e-5}, raw_seconds={1: 7e-4, 2: 7e-4}
    )
    assert first_touches.capacity(2) is None
    quick = {1: 0.001, 2: 0.0005, 3: 0.0004, 4: 0.0004}
    slow_to_write = Ceiling(
        files=100, size=1, generation_s=quick, raw_seconds={1: 0.5, 2: 0.3, 3: 0.4, 4: 0.35}
    )
    assert slow_to_write.seconds(workers=1) == pytest.approx(0.5)
    assert slow_to_write.seconds(workers=3) == pytest.approx(0.3)  # the best with at most 3: 2 writers
    assert slow_to_write.seconds(workers=4) == pytest.approx(0.3)  # 4 writers are no better than 2


def test_measured_ceiling(tmp_path: Path) -> None:
    """measure_ceiling times every concurrency asked for, and one, on the job's own files and size, making
    the bytes on as many processes at once as writing them, and leaves nothing. The capacity is told where
    making the bytes takes long enough to time (the classic CSV), not for a payload's."""
    workload = CsvWorkload()
    ceiling = measure_ceiling(tmp_path, workload, 6, "fsync", [2, 2], repeats=1)
    assert (ceiling.files, ceiling.size) == (6, len(workload.data(0)))
    assert sorted(ceiling.raw_seconds) == sorted(ceiling.generation_s) == [1, 2]
    assert min(ceiling.raw_seconds.values()) > 0 and min(ceiling.generation_s.values()) > 0
    assert ceiling.seconds(2) > 0 and (ceiling.capacity(2) or 0) > 0
    assert measure_ceiling(tmp_path, PayloadWorkload(4096), 6, "none", [2], repeats=1).capacity(2) is None
    assert list(tmp_path.iterdir()) == []


def test_generation_cost() -> None:
    """The classic CSV costs far more to make than a 4 KiB payload (about 6 ms against 0.01 ms here)."""
    assert generation_seconds(CsvWorkload(), files=4) > 10 * generation_seconds(
        PayloadWorkload(4096), files=4
    )


def test_report_without_fio_says_so(tmp_path: Path) -> None:
    """With no fio on PATH, every row's fio column says it is not installed; every size and durability has a
    row with the four raw rates."""
    empty = tmp_path / "no-fio-here"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", QUICK_REPORT, str(tmp_path)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PATH": str(empty)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "fileio probe of" in done.stdout and "csv (default)" in done.stdout
    rows = report_rows(done.stdout)
    assert sorted(rows) == sorted(ROWS)
    for row in rows.values():
        assert row.endswith("fio not installed") and len(row.split()) == 3 + 8 + 3
    assert [path.name for path in tmp_path.iterdir()] == ["no-fio-here"]


def fio_or_skip() -> str:
    fio = shutil.which("fio")
    if fio is None:
        pytest.skip("fio is not installed (apt-get install fio): its column cannot be checked here")
    return fio


def test_fio_beside(tmp_path: Path) -> None:
    """With fio installed, its rate is parsed for none and fsync; it has no rename, so no atomic figure."""
    fio_or_skip()
    for durability in ("none", "fsync"):
        rate = fio_files_per_s(tmp_path, 4096, durability, 32)
        assert rate is not None and rate > 0
    with pytest.raises(ValueError, match="cannot rename"):
        fio_files_per_s(tmp_path, 4096, "atomic", 32)
    assert list(tmp_path.iterdir()) == []


def test_report_with_fio(tmp_path: Path) -> None:
    """With fio installed, the report shows its files/s and MB/s beside the raw rates, n/a for atomic."""
    fio_or_skip()
    rows = report_rows("\n".join(probe_report(tmp_path, 0.01, 1)))
    assert sorted(rows) == sorted(ROWS)
    for (_, durability), row in rows.items():
        if durability == "atomic":
            assert row.endswith("n/a: no rename")
        else:
            assert len(row.split()) == 3 + 10 and float(row.split()[-2]) > 0
    assert list(tmp_path.iterdir()) == []
