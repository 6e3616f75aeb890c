"""Workloads: the classic CSV byte for byte, payloads exact and deterministic, sizes parsed strictly."""

from __future__ import annotations

import pickle

import pytest

from fileio import CsvWorkload, PayloadWorkload
from fileio.workloads import format_size, parse_size


def reference_csv(identifier: int) -> str:
    """The classic tutorial's file, written out the obvious way."""
    lines = []
    for i in range(5000):
        values = [str(identifier + i + j) for j in range(10)]
        lines.append(",".join(values))
    return "\n".join(lines)


@pytest.mark.parametrize("file_id", [0, 1, 7, 4999, 12345])
def test_csv_matches_the_classic_job(file_id: int) -> None:
    """The default CSV workload reproduces the classic file name and bytes exactly."""
    workload = CsvWorkload()
    assert workload.file_name(file_id) == f"data-{file_id:04d}.csv"
    assert workload.data(file_id) == reference_csv(file_id).encode("ascii")


def test_csv_shape_follows_its_parameters() -> None:
    """n_lines and n_values set the number of lines and values; no trailing newline."""
    data = CsvWorkload(n_lines=3, n_values=2).data(10)
    assert data == b"10,11\n11,12\n12,13"


def test_payload_is_exact_and_deterministic() -> None:
    """A payload has exactly the asked size, the same bytes every time, and differs between ids."""
    workload = PayloadWorkload(10_000)
    assert len(workload.data(3)) == 10_000
    assert workload.data(3) == PayloadWorkload(10_000).data(3)
    assert workload.data(3) != workload.data(4)
    assert PayloadWorkload(0).data(3) == b""
    assert workload.file_name(5) == "data-0005.bin"


def test_workloads_pickle() -> None:
    """Workloads survive the trip to a worker process."""
    for workload in (CsvWorkload(n_lines=4), PayloadWorkload(99)):
        assert pickle.loads(pickle.dumps(workload)) == workload


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: PayloadWorkload(-1), "size must be >= 0, got -1"),
        (lambda: CsvWorkload(n_lines=0), "n_lines must be >= 1"),
        (lambda: CsvWorkload(n_values=-3), "n_values must be >= 1"),
    ],
)
def test_bad_workload_sizes_are_refused(make, message: str) -> None:
    """A negative or empty workload size raises a ValueError naming it."""
    with pytest.raises(ValueError, match=message):
        make()


def test_workload_size_must_be_an_int() -> None:
    with pytest.raises(TypeError, match="size must be an int"):
        PayloadWorkload("4KiB")


@pytest.mark.parametrize(
    ("text", "size"),
    [("4096", 4096), ("4KiB", 4096), ("256KiB", 262144), ("1MiB", 1048576), ("2MB", 2 * 10**6)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["12XB", "", "KiB", "-1KiB", "1.5MiB"])
def test_parse_size_names_bad_text(text: str) -> None:
    with pytest.raises(ValueError, match=f"bad size '{text}'"):
        parse_size(text)


@pytest.mark.parametrize(("size", "text"), [(4096, "4KiB"), (1048576, "1MiB"), (1000, "1000B"), (0, "0B")])
def test_format_size(size: int, text: str) -> None:
    assert format_size(size) == text
