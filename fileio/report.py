"""What a save reports."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from fileio.workload_protocol import Workload


class SaveReport:
    """What a save did: files written, bytes written, elapsed seconds, and every id's path in id order."""

    def __init__(
        self,
        files: int,
        bytes: int,
        seconds: float,
        skipped: int,
        directory: str,
        ids: list[int],
        workload: Workload,
    ) -> None:
        self.files, self.bytes, self.seconds = files, bytes, seconds
        self.skipped = skipped  # files already complete, left alone by skip_existing
        self._directory, self.ids, self.workload = directory, ids, workload

    @property
    def directory(self) -> Path:
        """The save's directory (made when asked for: pathlib would cost a script ~9 ms to import)."""
        from pathlib import Path

        return Path(self._directory)

    def __repr__(self) -> str:
        return (
            f"SaveReport(files={self.files}, bytes={self.bytes}, seconds={self.seconds!r}, "
            f"skipped={self.skipped}, directory={self.directory!r})"
        )

    @property
    def paths(self) -> list[Path]:
        """Every id's path, in the order of the ids (made when asked for: not part of the save's time)."""
        return [self.directory / self.workload.file_name(file_id) for file_id in self.ids]

    @property
    def mb_per_s(self) -> float:
        """Throughput in decimal megabytes per second."""
        return self.bytes / 1e6 / self.seconds if self.seconds else float("inf")

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds if self.seconds else float("inf")
