"""The `fileio` command: a summary line or a live progress bar, one-line errors with non-zero exits for every
kind of bad input, the strategy list, your own workload."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fileio import STRATEGIES, CsvWorkload, PayloadWorkload, ShardedWorkload, verify

TESTS = Path(__file__).resolve().parent


def fileio(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fileio", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


def test_save_prints_one_summary_line(tmp_path: Path) -> None:
    """Without a terminal: no progress bar, one line echoing what was written and how, in human units."""
    done = fileio("save", "--strategy", "processes", "--files", "12", "--workers", "2", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    [line] = done.stdout.splitlines()
    size = sum(len(CsvWorkload().data(file_id)) for file_id in range(12))
    assert line.startswith(f"processes: 12 files, {size / 1e6:.3g} MB in ")
    assert line.endswith("files/s (workers 2, durability none)") and "MB/s, " in line
    verify(tmp_path, range(12), CsvWorkload())


def test_progress_bar_forced_on(tmp_path: Path) -> None:
    """--progress draws a live bar on stderr (files, MB/s), and the summary still ends the output."""
    done = fileio("save", "--progress", "--files", "40", "--size", "4KiB", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "40/40" in done.stderr and "file/s" in done.stderr and "MB/s" in done.stderr
    assert done.stdout.startswith("auto: 40 files, 164 kB in ")


def test_resume_counts_what_was_skipped(tmp_path: Path) -> None:
    assert fileio("save", "--files", "3", "--size", "1KiB", str(tmp_path)).returncode == 0
    done = fileio("save", "--files", "5", "--size", "1KiB", "--resume", str(tmp_path))
    assert "auto: 2 files, 2.05 kB in " in done.stdout and "(3 already complete, skipped)" in done.stdout


def test_files_per_directory(tmp_path: Path) -> None:
    """--files-per-directory N: N consecutive ids to each numbered subdirectory; --resume finds them there."""
    args = ["save", "--strategy", "process_batches", "--size", "1KiB", "--files-per-directory", "10"]
    assert fileio(*args, "--files", "15", str(tmp_path)).returncode == 0
    done = fileio(*args, "--files", "25", "--resume", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "(15 already complete, skipped)" in done.stdout
    assert sorted(os.listdir(tmp_path)) == ["00000", "00001", "00002"]
    verify(tmp_path, range(25), ShardedWorkload(PayloadWorkload(1024), files_per_directory=10))


def test_strategies_lists_every_strategy_and_whether_it_runs_here() -> None:
    done = fileio("strategies")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == list(STRATEGIES)
    for line, strategy in zip(lines, STRATEGIES.values(), strict=True):
        assert strategy.description in line
        assert line.endswith("[available]") == (strategy.unavailable_reason is None)


def test_help_shows_defaults_and_an_example() -> None:
    done = fileio("save", "--help")
    assert done.returncode == 0
    assert "(default: auto)" in done.stdout and "(default: 1000)" in done.stdout
    assert "example:\n  fileio save --strategy threads" in done.stdout
    assert "(default: None)" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--files", "0"], "argument --files: '0' is not a whole number >= 1"),
        (["--files", "abc"], "argument --files: 'abc' is not a whole number >= 1"),
        (["--workers", "0"], "argument --workers: '0' is not a whole number >= 1"),
        (["--files-per-directory", "0"], "argument --files-per-directory: '0' is not a whole number >= 1"),
        (["--size", "0"], "argument --size: '0' is not a size >= 1 byte"),
        (["--size", "12XB"], "argument --size: bad size '12XB'"),
        (["--strategy", "fastest"], "argument --strategy: invalid choice: 'fastest'"),
        (["--durability", "sync"], "argument --durability: invalid choice: 'sync'"),
        (
            ["--workload", "nosuchmodule:make"],
            "argument --workload: 'nosuchmodule:make': ModuleNotFoundError",
        ),
        (["--workload", "json"], "argument --workload: 'json' is not module:factory"),
        (["--workload", "json:dumps"], "argument --workload: 'json:dumps': TypeError"),
        (["--workload", "os:getcwd"], "argument --workload: 'os:getcwd' made '/"),
        (
            ["--size", "1KiB", "--workload", "fileio:CsvWorkload"],
            "argument --workload: not allowed with argument --size",
        ),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler is for --strategy dask, not 'auto'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    """Bad values, argparse's own errors included: exit 2, a single line naming the option and the value,
    nothing written."""
    done = fileio("save", *args, str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith("fileio save: error: "), done.stderr
    assert message in done.stderr
    assert not (tmp_path / "out").exists()


def test_target_under_a_regular_file_is_bad_input(tmp_path: Path) -> None:
    regular = tmp_path / "file"
    regular.write_text("")
    done = fileio("save", str(regular / "c"))
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"fileio save: error: directory {regular / 'c'} is under {regular}, which is not a directory"
    )


def test_unknown_or_missing_command_is_one_line() -> None:
    for args, message in [(["nothing"], "invalid choice: 'nothing'"), ([], "required: COMMAND")]:
        done = fileio(*args)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1 and message in done.stderr


def test_io_failure_exits_1_naming_the_id(tmp_path: Path) -> None:
    (tmp_path / "data-0001.csv").mkdir()
    done = fileio("save", "--files", "3", "--workers", "2", "--strategy", "threads", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"fileio save: error: could not save id(s) 1: IsADirectoryError: [Errno 21] Is a directory: "
        f"'{tmp_path / 'data-0001.csv'}'"
    )


WORKLOAD_MODULE = '''
import json
from dataclasses import dataclass


@dataclass(frozen=True)
class JsonDocuments:
    """One small JSON document per id."""

    def file_name(self, file_id: int) -> str:
        return f"doc-{file_id:05d}.json"

    def data(self, file_id: int) -> bytes:
        return json.dumps({"id": file_id, "square": file_id * file_id}).encode()


def make() -> JsonDocuments:
    return JsonDocuments()
'''


@pytest.mark.parametrize("strategy", ["sequential", "process_batches"])
def test_your_own_workload(strategy: str, tmp_path: Path) -> None:
    """--workload module:factory saves a user's own workload, in this process and in worker processes."""
    (tmp_path / "my_documents.py").write_text(WORKLOAD_MODULE)
    target = tmp_path / "out"
    done = fileio(
        "save", "--strategy", strategy, "--files", "20", "--workload", "my_documents:make", str(target),
        PYTHONPATH=str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(target))[:2] == ["doc-00000.json", "doc-00001.json"]
    assert (target / "doc-00007.json").read_text() == '{"id": 7, "square": 49}'


DOCUMENT_IDS_MODULE = '''
from dataclasses import dataclass


@dataclass(frozen=True)
class ByDocumentId:
    """Files named after document ids, one of which holds a slash."""

    def file_name(self, file_id: int) -> str:
        return "../stolen.txt" if file_id == 3 else f"doc-{file_id}.txt"

    def data(self, file_id: int) -> bytes:
        return b"text"


def make() -> ByDocumentId:
    return ByDocumentId()
'''


def test_a_name_leaving_the_directory_is_bad_input(tmp_path: Path) -> None:
    """A workload whose file name leaves the directory: exit 2, one line naming the id and the name, before
    anything is made or written."""
    (tmp_path / "documents.py").write_text(DOCUMENT_IDS_MODULE)
    target = tmp_path / "out"
    done = fileio(
        "save", "--strategy", "threads", "--files", "5", "--workload", "documents:make", str(target),
        PYTHONPATH=str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(
        "fileio save: error: id 3: file name '../stolen.txt' is not a name inside the save directory"
    )
    assert set(os.listdir(tmp_path)) - {"__pycache__"} == {"documents.py"}  # no out/, no stolen.txt


def test_a_link_at_a_file_name_exits_1_naming_it(tmp_path: Path) -> None:
    """A symbolic link planted at a file's name is refused, not followed: exit 1, one line naming the file."""
    target, victim = tmp_path / "out", tmp_path / "victim.txt"
    target.mkdir()
    victim.write_text("precious")
    (target / "data-0001.csv").symlink_to(victim)
    done = fileio("save", "--files", "3", "--strategy", "sequential", "--durability", "fsync", str(target))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"fileio save: error: could not save id(s) 1: SymlinkRefused: {target / 'data-0001.csv'} is a "
        "symbolic link, which fileio will not follow"
    )
    assert victim.read_text() == "precious"


def test_probe_and_plot_refuse_what_is_not_there(tmp_path: Path) -> None:
    for args, message in [
        (
            ["probe", str(tmp_path / "absent")],
            f"fileio probe: error: '{tmp_path / 'absent'}' is not an existing",
        ),
        (
            ["plot", str(tmp_path / "run.json")],
            f"fileio plot: error: {tmp_path / 'run.json'}: not a readable JSON",
        ),
    ]:
        done = fileio(*args)
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert done.stderr.startswith(message)
