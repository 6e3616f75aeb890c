"""``auto``: saves in the caller from the first file, timing it, and brings in helpers (threads, or worker
processes it keeps between saves) where a policy on what they gave before says they would end the save
sooner. :mod:`~fileio.auto.policy` decides, :mod:`~fileio.auto.driver` saves and measures,
:mod:`~fileio.auto.figures` remembers, :mod:`~fileio.auto.kept` keeps the workers; ``docs/auto.md``."""

from __future__ import annotations

from fileio.strategy import Strategy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from fileio.job import Job, OnSaved


def _save(job: Job, ids: list[int], workers: int, on_saved: OnSaved) -> None:
    from fileio.auto.driver import save  # at auto's first save: ``import fileio`` does not pay for it

    save(job, ids, workers, on_saved)


STRATEGY = Strategy(
    "auto",
    "saves in the caller from the start, timing the files; helpers join where the rest warrants them",
    _save,
    starts_processes=True,
    takes_pool=True,
    optional_processes=True,
)
