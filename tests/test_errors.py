"""Failures reach the caller naming the failed ids; bad input is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import assert_nothing_partial

from fileio import DURABILITIES, CsvWorkload, PayloadWorkload, SaveError, verify

WORKLOAD = CsvWorkload(n_lines=30, n_values=4)


@pytest.mark.parametrize("durability", DURABILITIES)
def test_failed_write_names_the_id(save, durability: str, tmp_path: Path) -> None:
    """A file that cannot be written (a directory stands at its name) fails the save, naming its id."""
    (tmp_path / WORKLOAD.file_name(13)).mkdir()
    with pytest.raises(SaveError, match=r"id\(s\) 13: IsADirectoryError") as raised:
        save(tmp_path, range(30), workers=3, workload=WORKLOAD, durability=durability)
    assert raised.value.failed_ids == [13]
    assert isinstance(raised.value.__cause__, IsADirectoryError)
    if durability == "atomic":
        assert_nothing_partial(tmp_path, WORKLOAD, range(30))


class Explosive(CsvWorkload):
    """A workload whose generation fails for id 7."""

    def data(self, file_id: int) -> bytes:
        if file_id == 7:
            raise RuntimeError("generation failed for 7")
        return super().data(file_id)


def test_failed_generation_names_the_id(save, tmp_path: Path) -> None:
    """An exception while generating a file reaches the caller with its id and message."""
    with pytest.raises(SaveError, match=r"id\(s\) 7: RuntimeError: generation failed for 7"):
        save(tmp_path, range(20), workers=2, workload=Explosive(n_lines=5), durability="atomic")
    assert_nothing_partial(tmp_path, Explosive(n_lines=5), range(20))


def test_save_error_pickles() -> None:
    """SaveError crosses process boundaries intact."""
    import pickle

    error = pickle.loads(pickle.dumps(SaveError([4, 2], OSError(28, "No space left on device"))))
    assert error.failed_ids == [2, 4]
    assert str(error) == "could not save id(s) 2, 4: OSError: [Errno 28] No space left on device"


def test_directory_is_reused(save, tmp_path: Path) -> None:
    """Saving into an existing directory overwrites the same names with the right bytes."""
    workload = PayloadWorkload(50)
    (tmp_path / workload.file_name(1)).write_bytes(b"stale")
    save(tmp_path, range(3), workers=2, workload=workload)
    verify(tmp_path, range(3), workload)
