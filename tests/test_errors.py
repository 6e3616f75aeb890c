"""Failures reach the caller naming the failed ids; bad input is refused before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fileio import DURABILITIES, CsvWorkload, PayloadWorkload, SaveError, verify
from fileio.writer import is_temporary

WORKLOAD = CsvWorkload(n_lines=30, n_values=4)


def assert_nothing_partial(directory: Path, workload, ids) -> None:
    """Every file under a final name is complete and no temporary file is left."""
    names = {workload.file_name(file_id): file_id for file_id in ids}
    for path in directory.iterdir():
        assert not is_temporary(path.name), f"temporary file left: {path.name}"
        if path.name in names and path.is_file():
            assert path.read_bytes() == workload.data(names[path.name]), f"partial file: {path.name}"


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


FILE_SIZE_LIMIT_SCRIPT = """
    import json, resource, sys
    from fileio import STRATEGIES, PayloadWorkload, SaveError

    if __name__ == "__main__":
        name, directory, durability = sys.argv[1:]
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))
        try:
            STRATEGIES[name](directory, range(40), workers=2, workload=PayloadWorkload(65536),
                             durability=durability)
        except SaveError as error:
            print(json.dumps({"failed": error.failed_ids, "message": str(error)}))
"""


@pytest.mark.parametrize("durability", ["none", "atomic"])
def test_file_size_limit_surfaces(strategy_name: str, durability: str, run_python, tmp_path: Path) -> None:
    """Writes cut short by RLIMIT_FSIZE raise SaveError naming the ids; atomic leaves nothing partial."""
    done = run_python(FILE_SIZE_LIMIT_SCRIPT, strategy_name, str(tmp_path), durability)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["failed"] and set(result["failed"]) <= set(range(40))
    assert "File too large" in result["message"]
    if durability == "atomic":
        assert_nothing_partial(tmp_path, PayloadWorkload(65536), range(40))
        assert not any(tmp_path.iterdir())


def test_open_file_limit(strategy_name: str, run_python, tmp_path: Path) -> None:
    """With RLIMIT_NOFILE at 64, every strategy still saves 300 files with 8 workers."""
    script = """
        import resource, sys
        from fileio import STRATEGIES, CsvWorkload, verify

        if __name__ == "__main__":
            resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
            workload = CsvWorkload(n_lines=20)
            for durability in ("none", "atomic"):
                directory = f"{sys.argv[2]}/{durability}"
                STRATEGIES[sys.argv[1]](directory, range(300), workers=8, workload=workload,
                                        durability=durability)
                verify(directory, range(300), workload)
    """
    done = run_python(script, strategy_name, str(tmp_path))
    assert done.returncode == 0, done.stderr


BAD_ARGUMENTS = [
    pytest.param({"workers": 0}, ValueError, "workers must be >= 1, got 0", id="workers-0"),
    pytest.param({"workers": -1}, ValueError, "workers must be >= 1, got -1", id="workers-negative"),
    pytest.param({"workers": 2.5}, TypeError, "workers must be an int", id="workers-float"),
    pytest.param({"ids": [1, -4]}, ValueError, "ids must be non-negative, got -4", id="negative-id"),
    pytest.param({"ids": [1, "2"]}, TypeError, "each id must be an int", id="str-id"),
    pytest.param({"ids": [3, 3]}, ValueError, "id 3 is given more than once", id="repeated-id"),
    pytest.param({"ids": 5}, TypeError, "ids must be an iterable of ints", id="ids-not-iterable"),
    pytest.param({"durability": "sync"}, ValueError, "durability must be one of", id="unknown-durability"),
    pytest.param({"workload": "csv"}, TypeError, "workload must have file_name", id="not-a-workload"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_ARGUMENTS)
def test_bad_arguments_write_nothing(save, change: dict, error: type, message: str, tmp_path: Path) -> None:
    """Bad arguments raise a clear ValueError or TypeError before the directory is even created."""
    arguments = {"ids": range(3), "workers": 2, "workload": PayloadWorkload(10), "durability": "none"}
    arguments.update(change)
    target = tmp_path / "out"
    with pytest.raises(error, match=message):
        save(target, **arguments)
    assert not target.exists()


def test_directory_that_is_a_file(save, tmp_path: Path) -> None:
    """A target that is a regular file, or lies under one, is refused and the file is untouched."""
    regular = tmp_path / "file"
    regular.write_text("keep me")
    with pytest.raises(ValueError, match="is not a directory"):
        save(regular, range(3), workers=2)
    with pytest.raises(ValueError, match="is under .*file, which is not a directory"):
        save(regular / "sub", range(3), workers=2)
    assert regular.read_text() == "keep me"


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
