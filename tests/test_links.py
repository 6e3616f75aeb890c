"""The fault matrix, continued: names and links. Every strategy and durability against a symbolic link planted
at a target name, a file name that leaves the directory (``../``, absolute), and a subdirectory swapped for a
link while a sharded save runs: no byte ever lands outside the target directory, and nothing outside changes.
Real files, real processes."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest
from conftest import strategy_params
from link_workloads import EscapingWorkload, LinkSwapping

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
from fileio.checks import check_names
from fileio.timed import _Gates, _write_chunk

WORKLOAD = PayloadWorkload(300)
IDS = range(12)
PRECIOUS = b"somebody else's file"
SHARDED = ShardedWorkload(PayloadWorkload(300), files_per_directory=4)
SHARD_IDS = range(16)  # 00000/ to 00003/


def refusal(path: Path) -> str:
    """What SaveError says of a symbolic link at ``path``."""
    return f"{path} is a symbolic link, which fileio will not follow"


def snapshot(directory: Path) -> dict[str, bytes | str]:
    """Everything below ``directory``, links not followed: each file's bytes, each link's target."""
    found: dict[str, bytes | str] = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root, name)
            key = str(path.relative_to(directory))
            if path.is_symlink():
                found[key] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[key] = path.read_bytes()
    return found


@pytest.mark.parametrize("durability", DURABILITIES)
def test_a_link_at_a_file_name_is_never_followed(save: Strategy, durability: str, tmp_path: Path) -> None:
    """Links planted at two files' names, ``out/data-0003.bin -> ../victim.txt`` and one to a file that does
    not exist yet: the file outside is unchanged and none is created. none and fsync refuse the link with a
    SaveError naming the file; atomic renames a regular file with the right bytes over the link itself."""
    target, victim = tmp_path / "out", tmp_path / "victim.txt"
    target.mkdir()
    victim.write_bytes(PRECIOUS)
    links = {3: target / WORKLOAD.file_name(3), 5: target / WORKLOAD.file_name(5)}
    links[3].symlink_to("../victim.txt")
    links[5].symlink_to("../created.txt")
    if durability == "atomic":
        report = save(target, IDS, workers=2, workload=WORKLOAD, durability=durability)
        assert report.files == len(IDS)
        assert not any(link.is_symlink() for link in links.values())
        verify(target, IDS, WORKLOAD)
    else:
        with pytest.raises(SaveError) as raised:
            save(target, IDS, workers=2, workload=WORKLOAD, durability=durability)
        failed = raised.value.failed_ids
        assert failed and set(failed) <= set(links), str(raised.value)
        assert any(refusal(links[file_id]) in str(raised.value) for file_id in failed), str(raised.value)
        assert all(link.is_symlink() for link in links.values())
    assert victim.read_bytes() == PRECIOUS
    assert sorted(os.listdir(tmp_path)) == ["out", "victim.txt"]


@pytest.mark.parametrize("durability", DURABILITIES)
def test_a_link_at_a_subdirectory_name_is_refused(save: Strategy, durability: str, tmp_path: Path) -> None:
    """A sharded save whose subdirectory ``00001`` is a link to a directory outside, planted beforehand: every
    durability refuses it (a rename cannot replace a directory) with a SaveError naming it and only its ids;
    the directory outside stays as it was."""
    target, outside = tmp_path / "out", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_bytes(PRECIOUS)
    (target / "00001").symlink_to(outside, target_is_directory=True)
    with pytest.raises(SaveError) as raised:
        save(target, SHARD_IDS, workers=2, workload=SHARDED, durability=durability)
    assert raised.value.failed_ids and set(raised.value.failed_ids) <= {4, 5, 6, 7}, str(raised.value)
    assert refusal(target / "00001") in str(raised.value)
    assert snapshot(outside) == {"keep.txt": PRECIOUS}
    assert sorted(os.listdir(tmp_path)) == ["out", "outside"]


@pytest.mark.parametrize("durability", DURABILITIES)
@pytest.mark.parametrize("escape", ["parent", "absolute"])
def test_a_name_leaving_the_directory_is_refused_before_anything_is_written(
    save: Strategy, durability: str, escape: str, tmp_path: Path
) -> None:
    """A workload naming id 7's file ``../escaped.bin`` or an absolute path (a name built from data): a
    ValueError naming the id and the name, before the directory is even made; nothing is created anywhere."""
    name = "../escaped.bin" if escape == "parent" else str(tmp_path / "escaped.bin")
    target = tmp_path / "out"
    with pytest.raises(
        ValueError, match=re.escape(f"id 7: file name {name!r} is not a name inside the save")
    ):
        save(target, IDS, workers=2, workload=EscapingWorkload(300, name=name), durability=durability)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("durability", DURABILITIES)
def test_a_subdirectory_swapped_for_a_link_during_the_save(
    save: Strategy, durability: str, tmp_path: Path
) -> None:
    """While a sharded save runs, making id 5's bytes renames its subdirectory ``00001`` away (inside the save
    directory) and puts a link to a directory outside in its place. Nothing outside changes, nothing is
    written through the link: the save either fails with a SaveError naming the link (or, in the instant
    between the rename and the link, the missing subdirectory) and only ids of that subdirectory, or
    completes, its files in the directory it had open (now ``00001.moved``)."""
    target, outside = tmp_path / "out", tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(PRECIOUS)
    workload = LinkSwapping(PayloadWorkload(300), 4, directory=str(target), outside=str(outside), trigger=5)
    try:
        report = save(target, SHARD_IDS, workers=2, workload=workload, durability=durability)
    except SaveError as error:
        assert error.failed_ids and set(error.failed_ids) <= {4, 5, 6, 7}, str(error)
        # The link refused; or, opened in the instant between the rename and the link, no directory at all.
        missing = "FileNotFoundError: [Errno 2] No such file or directory: '00001'"
        assert refusal(target / "00001") in str(error) or missing in str(error), str(error)
    else:
        assert report.files == len(SHARD_IDS)
        moved = {f"00001.moved/{WORKLOAD.file_name(i)}": WORKLOAD.data(i) for i in range(4, 8)}
        others = {SHARDED.file_name(i): SHARDED.data(i) for i in SHARD_IDS if not 4 <= i < 8}
        assert {k: v for k, v in snapshot(target).items() if k != "00001"} == moved | others
    assert (target / "00001").is_symlink()
    assert snapshot(outside) == {"keep.txt": PRECIOUS}
    assert sorted(os.listdir(tmp_path)) == ["out", "outside"]


@pytest.mark.parametrize("durability", DURABILITIES)
def test_resume_never_counts_a_link_as_saved(save: Strategy, durability: str, tmp_path: Path) -> None:
    """skip_existing: a link at a final name is not a saved file, even to a file with the right bytes. atomic
    replaces it with the file; none and fsync refuse it, naming it. The file it points to is unchanged."""
    target, copy = tmp_path / "out", tmp_path / "copy.bin"
    STRATEGIES["sequential"](target, IDS, workers=1, workload=WORKLOAD)
    copy.write_bytes(WORKLOAD.data(3))
    link = target / WORKLOAD.file_name(3)
    link.unlink()
    link.symlink_to(copy)
    if durability == "atomic":
        report = save(target, IDS, workers=2, workload=WORKLOAD, durability=durability, skip_existing=True)
        assert (report.files, report.skipped) == (1, len(IDS) - 1)
        assert not link.is_symlink()
        verify(target, IDS, WORKLOAD)
    else:
        with pytest.raises(SaveError) as raised:
            save(target, IDS, workers=2, workload=WORKLOAD, durability=durability, skip_existing=True)
        assert raised.value.failed_ids == [3]
        assert refusal(link) in str(raised.value)
    assert copy.read_bytes() == WORKLOAD.data(3)


def test_verify_names_links_and_never_follows_them(tmp_path: Path) -> None:
    """A link at a file's name, even to the right bytes, and a link at a subdirectory's name are each named
    as a problem; the subdirectory behind the link is not looked into."""
    flat, sharded, outside = tmp_path / "flat", tmp_path / "sharded", tmp_path / "outside"
    STRATEGIES["sequential"](flat, IDS, workers=1, workload=WORKLOAD)
    (tmp_path / "copy.bin").write_bytes(WORKLOAD.data(3))
    (flat / WORKLOAD.file_name(3)).unlink()
    (flat / WORKLOAD.file_name(3)).symlink_to(tmp_path / "copy.bin")
    with pytest.raises(VerificationError) as raised:
        verify(flat, IDS, WORKLOAD)
    assert str(raised.value).endswith(
        f"1 problem(s):\n  symbolic link (not followed): {WORKLOAD.file_name(3)}"
    )

    STRATEGIES["sequential"](sharded, SHARD_IDS, workers=1, workload=SHARDED)
    (sharded / "00001").rename(outside)
    (sharded / "00001").symlink_to(outside, target_is_directory=True)
    with pytest.raises(VerificationError) as raised:
        verify(sharded, SHARD_IDS, SHARDED)
    assert "  symbolic link (not followed): 00001" in str(raised.value).splitlines()
    assert all(f"missing: {SHARDED.file_name(i)}" in str(raised.value) for i in range(4, 8))


@pytest.mark.parametrize("slashes", ["", "/", "//"], ids=["no-slash", "a-trailing-slash", "two"])
def test_a_link_as_the_save_directory_is_refused(save: Strategy, slashes: str, tmp_path: Path) -> None:
    """The save directory itself is opened without following a link: a link there is a ValueError, before
    anything is written through it; also when it is named with trailing slashes (which make the kernel follow
    a final link)."""
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real", target_is_directory=True)
    with pytest.raises(ValueError, match=re.escape(f"directory {tmp_path / 'out'} is a symbolic link")):
        save(f"{tmp_path / 'out'}{slashes}", IDS, workers=2, workload=WORKLOAD)
    assert os.listdir(tmp_path / "real") == []


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../x",
        "/etc/x",
        "a/b",
        "00000/../x",
        "00000/",
        "00000/a/b",
        "./x",
        "x\0y",
        "99999/x",
        7,
    ],
)
def test_only_names_inside_the_directory_pass(name: object) -> None:
    """One name, or SUBDIRECTORY/NAME with a subdirectory the (sharded) workload makes; nothing else."""

    class Named(ShardedWorkload):
        def file_name(self, file_id: int) -> str:
            return name if file_id == 2 else super().file_name(file_id)  # type: ignore[return-value]

    with pytest.raises(ValueError, match="^" + re.escape(f"id 2: file name {name!r} is not a name inside")):
        check_names(Named(WORKLOAD, 10), [0, 1, 2])
    check_names(SHARDED, list(SHARD_IDS))
    check_names(WORKLOAD, list(IDS))


def test_fileio_own_names_pass_unchecked_only_where_they_are_the_names_given() -> None:
    """PayloadWorkload's own names need no check; a subclass's, or a function set on an instance, do."""

    class Renamed(PayloadWorkload):
        def file_name(self, file_id: int) -> str:
            return "../escaped.bin"

    class Open(PayloadWorkload):  # no __slots__: an instance may take a file_name of its own
        pass

    shadowed = Open(10)
    shadowed.file_name = lambda file_id: "../escaped.bin"  # type: ignore[method-assign]
    check_names(PayloadWorkload(10), [0, 1])
    for workload in (Renamed(10), shadowed):
        with pytest.raises(ValueError, match="id 0: file name '../escaped.bin' is not a name inside"):
            check_names(workload, [0, 1])


IN_PROCESS = [param for param in strategy_params() if not STRATEGIES[param.values[0]].starts_processes]


@pytest.mark.parametrize("strategy_name", IN_PROCESS, indirect=True)
def test_many_subdirectories_leave_no_descriptor_open(save: Strategy, tmp_path: Path) -> None:
    """A file per subdirectory, more subdirectories than are kept open: every file saved, and once the save
    has returned, no descriptor it opened is left."""
    before = set(os.listdir("/proc/self/fd"))
    workload = ShardedWorkload(WORKLOAD, files_per_directory=1)
    save(tmp_path, range(40), workers=3, workload=workload, durability="atomic")
    verify(tmp_path, range(40), workload)
    assert set(os.listdir("/proc/self/fd")) <= before


@pytest.mark.parametrize("durability", DURABILITIES)
def test_the_probes_writer_never_follows_a_link(durability: str, tmp_path: Path) -> None:
    """The probe's raw writer opens as fileio does: a link at a final name is refused (ELOOP), and a temporary
    name that exists already is never written into (O_EXCL)."""
    go = threading.Event()
    go.set()
    (tmp_path / "victim").write_bytes(PRECIOUS)
    name = "f0.tmp" if durability == "atomic" else "f0"
    (tmp_path / name).symlink_to(tmp_path / "victim")
    with pytest.raises(FileExistsError if durability == "atomic" else OSError, match="File exists|symbolic"):
        _write_chunk(str(tmp_path), 100, durability, [0], _Gates(threading.Barrier(1), go))
    assert (tmp_path / "victim").read_bytes() == PRECIOUS
