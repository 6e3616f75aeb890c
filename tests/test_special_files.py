"""What stands at a final name and is not a plain file of the save's: a FIFO, a socket or a device is refused
at every durability, never written through nor waited on; a file with another hard link is refused where it
would be written in place, and replaced (its other name untouched) by an atomic save's rename."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fileio import DURABILITIES, PayloadWorkload, SaveError

WORKLOAD = PayloadWorkload(100)
# Each save runs in a fresh interpreter with a bound: a FIFO waited on would hang it.
SCRIPT = """
    import json, os, socket, stat, sys, time
    from fileio import DURABILITIES, STRATEGIES, PayloadWorkload, SaveError

    def plant(path, kind):
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "socket":  # bound by its name alone: a socket's whole path may be at most 107 bytes
            here = os.getcwd()
            os.chdir(os.path.dirname(path))
            socket.socket(socket.AF_UNIX).bind(os.path.basename(path))  # left bound: no one listens
            os.chdir(here)
        elif kind == "device":
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's

    if __name__ == "__main__":
        name, root, kinds = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
        results = []
        for durability in DURABILITIES:
            for kind in kinds:
                directory = f"{root}/{durability}-{kind}"
                os.makedirs(directory)
                plant(f"{directory}/{PayloadWorkload(100).file_name(3)}", kind)
                started = time.monotonic()
                try:
                    STRATEGIES[name](directory, range(8), workers=2, workload=PayloadWorkload(100),
                                     durability=durability)
                    outcome = {"saved": True}
                except SaveError as error:
                    outcome = {"failed": error.failed_ids, "message": str(error)}
                outcome.update(durability=durability, kind=kind, seconds=time.monotonic() - started)
                results.append(outcome)
        print(json.dumps(results))
"""
KINDS = {"fifo": "a FIFO", "socket": "a socket", "device": "a character device"}


def test_a_fifo_socket_or_device_is_refused(strategy_name: str, run_python, tmp_path: Path) -> None:
    """At every durability: a one-line SaveError naming that id alone, within a second (dask's within the
    five its cluster takes to start and stop), and the thing at the name is still there, untouched."""
    kinds = list(KINDS) if os.geteuid() == 0 else ["fifo", "socket"]  # mknod needs root
    done = run_python(SCRIPT, strategy_name, str(tmp_path), ",".join(kinds), timeout=120)
    assert done.returncode == 0, done.stderr
    for result in json.loads(done.stdout):
        where = f"{result['durability']}-{result['kind']}"
        assert result.get("failed") == [3], where
        path = tmp_path / where / WORKLOAD.file_name(3)
        what = KINDS[result["kind"]]
        assert result["message"] == (
            f"could not save id(s) 3: NotAPlainFile: {path} is {what}, which fileio will not write through"
        )
        assert result["seconds"] < (5 if strategy_name == "dask" else 1), where
        assert not path.is_file() and path.exists(), where


@pytest.mark.parametrize("durability", DURABILITIES)
def test_a_file_with_another_hard_link(save, durability: str, tmp_path: Path) -> None:
    """Written in place it would change the other name's file too: refused. An atomic save renames its
    own file over the name: saved, and the other name keeps its bytes."""
    outside = tmp_path / "elsewhere"
    outside.write_bytes(b"keep me")
    target = tmp_path / "out"
    target.mkdir()
    os.link(outside, target / WORKLOAD.file_name(3))
    if durability == "atomic":
        save(target, range(8), workers=2, workload=WORKLOAD, durability=durability)
        assert (target / WORKLOAD.file_name(3)).read_bytes() == WORKLOAD.data(3)
    else:
        refusal = "is a file with 2 hard links, which fileio will not write through"
        with pytest.raises(SaveError, match=refusal) as raised:
            save(target, range(8), workers=2, workload=WORKLOAD, durability=durability)
        assert raised.value.failed_ids == [3]
    assert outside.read_bytes() == b"keep me"
