"""bench.peers: what users write by hand must write fileio's bytes under fileio's names, or its timings
compare unlike work."""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from bench.matrix import Job
from bench.peers import NEEDS, PEERS, PRELUDE
from bench.stats import typical_ratio
from fileio import verify

JOBS = [  # csv; payloads under a block, not a whole number of blocks, of 256 KiB
    Job.csv(3, "none"),
    Job.payload(100, 3, "none"),
    Job.payload(5000, 5, "none"),
    Job.payload(256 << 10, 4, "none"),
]


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.label)
@pytest.mark.parametrize("peer", list(PEERS))
def test_a_peer_writes_the_bytes_fileio_writes(peer: str, job: Job, tmp_path: Path) -> None:
    if peer in NEEDS and importlib.util.find_spec(NEEDS[peer]) is None:
        pytest.skip(f"{NEEDS[peer]} is not installed")
    script, target = tmp_path / "peer.py", tmp_path / "out"
    script.write_text(PRELUDE + PEERS[peer])
    target.mkdir()
    command = [sys.executable, str(script), job.kind, str(job.files), str(job.size), "2", str(target)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    verify(target, range(job.files), job.workload)


def test_peers_are_compared_round_by_round() -> None:
    """A ratio of medians mixes rounds the machine ran at different speeds; the ratio within each round does
    not. Here the reference is twice as fast in three of five rounds, whose own speeds differ 8x: the medians
    alone (3.0 and 3.0) would call the two even."""
    reference, contender = [1.0, 4.0, 2.0, 8.0, 3.0], [2.0, 8.0, 3.0, 16.0, 1.5]
    assert statistics.median(reference) == statistics.median(contender)
    assert typical_ratio(reference, contender) == pytest.approx((0.5 * 0.5 * 2 / 3) ** (1 / 3))
    assert typical_ratio(contender, reference) == pytest.approx((2 * 2 * 1.5) ** (1 / 3))
    assert typical_ratio(reference, reference) == pytest.approx(1.0)
