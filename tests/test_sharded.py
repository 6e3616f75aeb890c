"""ShardedWorkload: files in numbered subdirectories, saved, verified, made durable and resumed like any."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import assert_nothing_partial
from test_errors import Explosive
from test_safety import FSYNC_SCRIPT

from fileio import (
    DURABILITIES,
    STRATEGIES,
    PayloadWorkload,
    SaveError,
    ShardedWorkload,
    Strategy,
    VerificationError,
    verify,
)
from fileio.writer import owner_token, temporary_name

WORKLOAD = ShardedWorkload(PayloadWorkload(500), files_per_directory=10)


def test_names_and_directories() -> None:
    """Ids 0-9 in 00000/, 10-19 in 00001/, ...; the directories of some ids, each once, in order."""
    assert WORKLOAD.file_name(7) == "00000/data-0007.bin"
    assert WORKLOAD.file_name(23) == "00002/data-0023.bin"
    assert WORKLOAD.data(23) == PayloadWorkload(500).data(23)
    assert WORKLOAD.directories([31, 5, 7, 12]) == ["00000", "00001", "00003"]


@pytest.mark.parametrize(("kwargs", "error"), [({"files_per_directory": 0}, ValueError), ({}, TypeError)])
def test_bad_sharding_is_refused(kwargs: dict[str, int], error: type[Exception]) -> None:
    with pytest.raises(error, match="files_per_directory|workload must have"):
        ShardedWorkload(
            kwargs and PayloadWorkload(1) or "not a workload", kwargs.get("files_per_directory", 5)
        )  # type: ignore[arg-type]


@pytest.mark.parametrize("durability", DURABILITIES)
def test_every_strategy_saves_into_the_subdirectories(
    save: Strategy, durability: str, tmp_path: Path
) -> None:
    """Exact bytes under their subdirectories, nothing else, the report's paths among them."""
    report = save(tmp_path, range(5, 35), workers=2, workload=WORKLOAD, durability=durability)
    assert sorted(os.listdir(tmp_path)) == ["00000", "00001", "00002", "00003"]
    assert report.files == 30 and report.paths[0] == tmp_path / "00000" / "data-0005.bin"
    verify(tmp_path, range(5, 35), WORKLOAD)


def test_verify_looks_into_the_subdirectories(tmp_path: Path) -> None:
    """A missing file, a foreign one and a stale temporary, each in a subdirectory, are all named."""
    STRATEGIES["sequential"](tmp_path, range(20), workers=1, workload=WORKLOAD)
    (tmp_path / "00001" / "data-0013.bin").unlink()
    (tmp_path / "00000" / "notes.txt").write_text("mine")
    Path(temporary_name(str(tmp_path / "00001" / "data-0014.bin"), "999999999-1")).write_bytes(b"part")
    with pytest.raises(VerificationError) as raised:
        verify(tmp_path, range(20), WORKLOAD)
    message = str(raised.value)
    assert "3 problem(s)" in message and "missing: 00001/data-0013.bin" in message
    assert "unexpected file: 00000/notes.txt" in message and "stale temporary file" in message


def test_a_failed_save_leaves_nothing_partial_in_any_subdirectory(save: Strategy, tmp_path: Path) -> None:
    """Generation fails for id 7: the error names it; no subdirectory holds a partial file or temporary."""
    explosive = ShardedWorkload(Explosive(n_lines=5), files_per_directory=4)
    with pytest.raises(SaveError, match=r"id\(s\) 7: RuntimeError"):
        save(tmp_path, range(20), workers=2, workload=explosive, durability="atomic")
    for shard in explosive.directories(range(20)):
        names = {
            explosive.workload.file_name(i): i for i in range(20) if explosive.file_name(i).startswith(shard)
        }
        assert set(os.listdir(tmp_path / shard)) <= set(names)
    assert_nothing_partial(tmp_path / "00001", explosive.workload, range(4, 8))


def test_resume_removes_stale_temporaries_in_subdirectories(tmp_path: Path) -> None:
    """A resumed save removes a dead save's temporary in a subdirectory, keeps a live one's, and finishes."""
    (tmp_path / "00001").mkdir(parents=True)
    stale = Path(temporary_name(str(tmp_path / "00001" / "data-0011.bin"), "999999999-1"))
    running = Path(temporary_name(str(tmp_path / "00001" / "data-0012.bin"), owner_token()))
    for temporary in (stale, running):
        temporary.write_bytes(b"partial")
    report = STRATEGIES["process_batches"](
        tmp_path, range(20), workers=2, workload=WORKLOAD, skip_existing=True
    )
    assert report.files == 20 and not stale.exists() and running.exists()
    running.unlink()
    verify(tmp_path, range(20), WORKLOAD)


def test_a_durable_save_fsyncs_every_subdirectory_then_the_directory(run_python, tmp_path: Path) -> None:
    """Each subdirectory's new names, and then the subdirectories' own names, are made durable."""
    done = run_python(FSYNC_SCRIPT, "process_batches", str(tmp_path), "atomic", "10")
    assert done.returncode == 0, done.stderr
    shards = [str(tmp_path / name) for name in ("00000", "00001", "00002")]
    assert json.loads(done.stdout) == [*reversed(shards), str(tmp_path)]
