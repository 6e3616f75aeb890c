"""The errors a save raises."""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    Progress = Callable[[Path], object]

SHOWN_IDS = 20


class SaveError(Exception):
    """Saving failed for ``failed_ids``; ``cause`` is the first underlying exception."""

    def __init__(self, failed_ids: list[int], cause: BaseException) -> None:
        super().__init__(failed_ids, cause)
        self.failed_ids = sorted(failed_ids)
        self.cause = cause

    def __str__(self) -> str:
        shown = ", ".join(map(str, self.failed_ids[:SHOWN_IDS]))
        more = f" and {len(self.failed_ids) - SHOWN_IDS} more" if len(self.failed_ids) > SHOWN_IDS else ""
        return f"could not save id(s) {shown}{more}: {type(self.cause).__name__}: {self.cause}"

    @classmethod
    def merge(cls, errors: list[SaveError]) -> SaveError:
        """One error naming every failed id, caused by the first failure."""
        failed = sorted({file_id for error in errors for file_id in error.failed_ids})
        merged = cls(failed, errors[0].cause)
        merged.__cause__ = errors[0].cause
        return merged


class StrategyUnavailable(RuntimeError):
    """The strategy cannot run here; the message names it, says why and how to install what it needs."""
