"""Workloads for the link tests, in a module so that worker processes can unpickle them: one whose file name
for an id leaves the save directory, and a sharded one that swaps a subdirectory for a symbolic link while the
save runs."""

from __future__ import annotations

import os

from fileio import PayloadWorkload, ShardedWorkload


class EscapingWorkload(PayloadWorkload):
    """Payloads, with ``name`` as the file name of id ``escaping`` (a name built from data, say)."""

    def __init__(self, size: int, name: str = "../escaped.bin", escaping: int = 7) -> None:
        super().__init__(size)
        self.name, self.escaping = name, escaping

    def file_name(self, file_id: int) -> str:
        return self.name if file_id == self.escaping else super().file_name(file_id)


class LinkSwapping(ShardedWorkload):
    """A sharded workload whose ``data(trigger)`` swaps the subdirectory of ``trigger`` in ``directory`` for a
    symbolic link to ``outside``: the real one is renamed to ``SHARD.moved`` beside it, inside the save
    directory, and the link takes its name. Once, in whichever process makes that id."""

    def __init__(
        self, workload: PayloadWorkload, files_per_directory: int, directory: str, outside: str, trigger: int
    ) -> None:
        super().__init__(workload, files_per_directory)
        self.directory, self.outside, self.trigger = directory, outside, trigger

    def data(self, file_id: int) -> bytes:
        if file_id == self.trigger:
            shard = os.path.join(self.directory, self.file_name(file_id).split("/")[0])
            os.rename(shard, f"{shard}.moved")
            os.symlink(self.outside, shard, target_is_directory=True)
        return super().data(file_id)
