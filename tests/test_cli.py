"""python -m fileio save: prints throughput; one-line errors and non-zero exits for bad input, failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from fileio import CsvWorkload, verify


def fileio(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fileio", *args], capture_output=True, text=True, timeout=60)


def test_save_prints_files_bytes_seconds_and_throughput(tmp_path: Path) -> None:
    """A save reports what it wrote, and wrote it correctly."""
    done = fileio("save", "--strategy", "processes", "--files", "12", "--workers", "2", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("processes: 12 files, ")
    size = sum(len(CsvWorkload().data(file_id)) for file_id in range(12))
    assert f" {size} bytes, " in done.stdout
    assert done.stdout.rstrip().endswith("files/s") and " MB/s, " in done.stdout
    verify(tmp_path, range(12), CsvWorkload())


def test_payload_size_option(tmp_path: Path) -> None:
    done = fileio("save", "--strategy", "threads", "--files", "3", "--size", "4KiB", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "3 files, 12288 bytes" in done.stdout


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Bad values exit 2 with a single line naming the problem and write nothing."""
    regular = tmp_path / "file"
    regular.write_text("")
    cases = [
        (["--workers", "0", str(tmp_path / "a")], "workers must be >= 1, got 0"),
        (["--files", "-2", str(tmp_path / "b")], "--files must be >= 0, got -2"),
        ([str(regular / "c")], "which is not a directory"),
    ]
    for args, message in cases:
        done = fileio("save", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("fileio: error: ")
        assert message in done.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["file"]


def test_argparse_rejects_unknown_names(tmp_path: Path) -> None:
    for args, message in [
        (["--strategy", "rockets"], "invalid choice: 'rockets'"),
        (["--size", "12XB"], "bad size '12XB'"),
    ]:
        done = fileio("save", *args, str(tmp_path / "x"))
        assert done.returncode == 2
        assert message in done.stderr
    assert not (tmp_path / "x").exists()


def test_io_failure_exits_1_naming_the_id(tmp_path: Path) -> None:
    (tmp_path / "data-0001.csv").mkdir()
    done = fileio("save", "--files", "3", "--workers", "2", "--strategy", "threads", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"fileio: error: could not save id(s) 1: IsADirectoryError: [Errno 21] Is a directory: "
        f"'{tmp_path / 'data-0001.csv'}'"
    )
