"""verify() accepts exactly the expected files and says precisely what is wrong otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from fileio import PayloadWorkload, VerificationError, verify
from fileio.verification import expected_digests
from fileio.writer import owner_token, temporary_name

WORKLOAD = PayloadWorkload(100)
IDS = range(3)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    for file_id in IDS:
        (tmp_path / WORKLOAD.file_name(file_id)).write_bytes(WORKLOAD.data(file_id))
    return tmp_path


def test_complete_output_passes(saved: Path) -> None:
    verify(saved, IDS, WORKLOAD)


def test_missing_file_is_named(saved: Path) -> None:
    (saved / "data-0001.bin").unlink()
    with pytest.raises(VerificationError, match="missing: data-0001.bin"):
        verify(saved, IDS, WORKLOAD)


@pytest.mark.parametrize(
    "known",
    [{}, {"digests": expected_digests(IDS, WORKLOAD)}, {"contents": {i: WORKLOAD.data(i) for i in IDS}}],
    ids=["bytes", "digests", "contents"],
)
def test_wrong_bytes_are_located(saved: Path, known) -> None:
    """A flipped byte is found, whether files are compared with fresh bytes, by digest or with kept bytes."""
    verify(saved, IDS, WORKLOAD, **known)
    path = saved / "data-0002.bin"
    data = bytearray(path.read_bytes())
    data[42] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(
        VerificationError, match="wrong bytes: data-0002.bin: .* first difference at offset 42"
    ):
        verify(saved, IDS, WORKLOAD, **known)


def test_truncated_file_is_reported(saved: Path) -> None:
    (saved / "data-0000.bin").write_bytes(WORKLOAD.data(0)[:10])
    with pytest.raises(VerificationError, match="data-0000.bin: 10 bytes, expected 100"):
        verify(saved, IDS, WORKLOAD)


def test_leftovers_are_reported(saved: Path) -> None:
    """Temporaries are told apart: of a save still running (this process), or stale (its process is gone)."""
    running = Path(temporary_name(str(saved / "data-0000.bin"), owner_token()))
    stale = Path(temporary_name(str(saved / "data-0001.bin"), "999999999-1"))
    for temporary in (running, stale):
        temporary.write_bytes(b"partial")
    (saved / "notes.txt").write_text("hello")
    with pytest.raises(VerificationError) as raised:
        verify(saved, IDS, WORKLOAD)
    assert f"temporary file of a save still running: {running.name}" in str(raised.value)
    assert f"stale temporary file (its save died; a resumed save removes it): {stale.name}" in str(
        raised.value
    )
    assert "unexpected file: notes.txt" in str(raised.value)


def test_missing_directory_reports_every_file(tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match="3 problem"):
        verify(tmp_path / "absent", IDS, WORKLOAD)
