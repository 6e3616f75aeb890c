"""The strategy: one way to save many files, with the signature every strategy shares, around a body that
saves; it checks the arguments, reports and cleans up."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from contextlib import suppress
from time import perf_counter

from fileio.checks import (
    check_directory,
    check_durability,
    check_ids,
    check_names,
    check_workers,
    check_workload,
)
from fileio.errors import SaveError, StrategyUnavailable
from fileio.interrupts import interrupts_once, raise_if_interrupted
from fileio.job import Job, OnSaved, Pool, is_empty_at
from fileio.main_guard import check_main_module
from fileio.report import SaveReport
from fileio.workloads import CsvWorkload, subdirectories
from fileio.writer import (
    fsync_directory,
    owner_token,
    remove_temporaries,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from fileio.workload_protocol import Workload

    Progress = Callable[[Path], object]

DEFAULT_WORKLOAD = CsvWorkload()

Body = Callable[[Job, list[int], int, OnSaved], None]


class Strategy:
    """One way to save many files, called with the signature every strategy shares.

    ``body(job, ids, workers, on_saved)`` saves every id and calls ``on_saved(file_id, nbytes)`` in the
    caller's process for each file; the strategy around it checks the arguments, reports and cleans up.
    """

    def __init__(
        self,
        name: str,
        description: str,
        body: Body,
        *,
        requires: str | None = None,
        starts_processes: bool = False,
        takes_pool: bool = False,
        optional_processes: bool = False,
        install: str | None = None,
        available: Callable[[], str | None] | None = None,
    ) -> None:
        self.name = name
        self.description = description  # one line: what it does
        self.body = body
        self.requires = requires  # an optional module the body imports, installed with ``pip install NAME``
        self.starts_processes = starts_processes  # whether it runs worker processes
        self.takes_pool = takes_pool  # whether its worker processes can be a WarmPool's (``pool=``)
        # it saves on threads where worker processes could not start safely
        self.optional_processes = optional_processes
        self.install = install  # how to install ``requires``, when not ``pip install NAME``
        # once ``requires`` is there: why the system cannot run it (the kernel lacks a feature), or None. A
        # module-level function that loads ``requires`` itself: it runs in a child interpreter.
        self.available = available

    def __repr__(self) -> str:
        return f"Strategy({self.name!r}, {self.description!r})"

    def replace(self, **changes: Any) -> Strategy:
        """This strategy with some of its fields (the arguments it was made with) changed."""
        return Strategy(**{**vars(self), **changes})

    @property
    def unavailable_reason(self) -> str | None:
        """Why this strategy cannot run here (its optional dependency is missing, crashes or fails to load, or
        a feature of the system is missing), or None when it can. The dependency is first loaded in a child
        interpreter (:mod:`fileio.isolation`), so that one built for another CPU cannot crash this one."""
        if self.requires is None:
            return None
        install = self.install or f"pip install {self.requires}"
        import importlib.util  # only a strategy with a dependency needs these

        from fileio.isolation import isolated_reason

        if importlib.util.find_spec(self.requires) is None:
            return f"strategy {self.name!r} needs {self.requires}: {install}"

        reason = isolated_reason(self.requires, self.available, install)
        return f"strategy {self.name!r} cannot run here: {reason}" if reason else None

    def __call__(
        self,
        directory: str | os.PathLike[str],
        ids: Iterable[int],
        *,
        workers: int,
        workload: Workload = DEFAULT_WORKLOAD,
        durability: str = "none",
        progress: Progress | None = None,
        skip_existing: bool = False,
        pool: Pool | None = None,
    ) -> SaveReport:
        """Save the file of every id in ``ids`` into ``directory`` and report what was written.

        :param directory: where to save; created with its parents when missing; not a symbolic link.
        :param ids: distinct non-negative ints, one file each (any iterable, read once).
        :param workers: how many threads, processes or coroutines work at once (>= 1).
        :param workload: makes each id's file name and bytes (:class:`fileio.Workload`); a name is one name
            in the directory, or ``SUBDIRECTORY/NAME`` in a :class:`fileio.ShardedWorkload`'s subdirectory.
        :param durability: ``"none"`` (the page cache), ``"fsync"`` (each file fsync'd) or ``"atomic"``
            (temporary file, fsync, rename, directory fsync: no partial file ever under a final name).
        :param progress: called with each saved file's path, in the caller's process.
        :param skip_existing: leave out ids whose files are already complete (to finish an interrupted save).
        :param pool: a :class:`fileio.WarmPool` whose worker processes (at most ``workers`` of them) do the
            work, for the strategies whose ``takes_pool`` is true; it stays up after the save.
        :raises SaveError: naming the failed ids, for any failure of the save (a file call, a worker's pipe,
            a pool that breaks, a close, the directory's fsync or close); the rest of the work is cancelled,
            every file under a final name whose id is not named is complete, an atomic save leaves no
            temporary file and no worker process outlives the save (``auto`` keeps its workers only after a
            save that succeeded). No symbolic link is ever followed: one
            at a file's name is refused (durability none or fsync) or replaced by the file (atomic); one at
            a subdirectory's name is refused. A FIFO, a socket or a device at a file's name is refused, and
            so is a file with another hard link where it would be written in place (none, fsync).
        :raises ValueError, TypeError: bad arguments, a file name that leaves the directory included, before
            anything is written.
        :raises StrategyUnavailable: the strategy cannot run here (:attr:`unavailable_reason`), before
            anything is touched.
        :raises RuntimeError: worker processes would have to re-import the main program and cannot safely
            (no ``if __name__ == "__main__":`` guard, or a program read on standard input); forked workers,
            which fileio starts where that is safe (:mod:`fileio.pools`), need not.
        :raises KeyboardInterrupt: a first Ctrl-C stops the save within seconds; further ones are ignored
            until it has cleaned up.

        Nothing else is raised but what ``progress`` raises, which stops the save as a failure does.
        """
        job, checked_ids, workers = self._checked(directory, ids, workers, workload, durability, pool)
        if self.starts_processes and not self.optional_processes and job.pool is None and self._reimports():
            check_main_module(self.name)  # here: the one frame of fileio's above the refusal
        with interrupts_once():
            return self._save(job, checked_ids, workers, progress, skip_existing)

    def _checked(
        self, directory: str | os.PathLike[str], ids: Iterable[int], workers: int, workload: Workload,
        durability: str, pool: Pool | None,
    ) -> tuple[Job, list[int], int]:  # fmt: skip
        """The save's job, ids and workers, the strategy and every argument checked."""
        reason = self.unavailable_reason
        if reason is not None:
            raise StrategyUnavailable(reason)
        job = Job(
            check_directory(directory), check_workload(workload), check_durability(durability), owner_token(),
            pool=self._check_pool(pool),
        )  # fmt: skip
        workers = check_workers(workers)
        checked_ids = check_ids(ids)
        check_names(job.workload, checked_ids)
        return job, checked_ids, workers

    def _reimports(self) -> bool:
        """Whether its worker processes would re-import the main program: forked ones
        (:mod:`fileio.pools`) re-import nothing."""
        if not self.takes_pool:
            return True
        from fileio.start import start_method

        return start_method() != "fork"

    def _check_pool(self, pool: object) -> Pool | None:
        if pool is not None and not isinstance(pool, Pool):
            raise TypeError(f"pool must be a fileio.WarmPool, got {pool!r}")
        if pool is not None and not self.takes_pool:
            raise ValueError(
                f"strategy {self.name!r} cannot run on a WarmPool; pool= is for the strategies whose "
                "takes_pool is true (`fileio strategies` lists them)"
            )
        return pool

    def _save(
        self, job: Job, ids: list[int], workers: int, progress: Progress | None, skip_existing: bool
    ) -> SaveReport:
        os.makedirs(job.directory, exist_ok=True)
        with job.opened(ids) as opened:
            return self._save_opened(opened, ids, workers, progress, skip_existing)

    def _save_opened(
        self, job: Job, ids: list[int], workers: int, progress: Progress | None, skip_existing: bool
    ) -> SaveReport:
        directories = job.dirs
        totals = {"files": 0, "bytes": 0}

        def on_saved(file_id: int, nbytes: int) -> None:
            totals["files"] += 1
            totals["bytes"] += nbytes
            if progress is not None:
                progress(job.path(file_id))
            raise_if_interrupted()

        start = perf_counter()
        # The directories that receive files, relative to the save's own: itself, and those a ShardedWorkload
        # adds below it.
        targets = [".", *subdirectories(job.workload, ids)]
        for target in targets[1:]:
            with suppress(FileExistsError):  # a link there is refused as soon as a file goes in
                os.mkdir(target, dir_fd=directories.fd)
        job.fresh = frozenset(target for target in targets if is_empty_at(target, directories.fd))
        if skip_existing:
            for target in targets:
                remove_temporaries(target, dir_fd=directories.fd)  # the stale ones, of saves that died
            todo = [file_id for file_id in ids if not job.is_complete(file_id)]
        else:
            todo = ids
        try:
            self.body(job, todo, workers, on_saved)
            if job.durability != "none":  # the new names, as the files' data, survive a crash
                for target in reversed(targets):  # the save's own directory, holding the others' names, last
                    self._fsync(job, target, todo)
        except BaseException:
            if job.durability == "atomic":
                for target in targets:
                    remove_temporaries(target, job.owner, directories.fd)
            raise
        seconds = perf_counter() - start
        if totals["files"] != len(todo):
            raise RuntimeError(f"strategy {self.name} saved {totals['files']} of {len(todo)} files")
        skipped = len(ids) - len(todo)
        return SaveReport(
            totals["files"], totals["bytes"], seconds, skipped, job.directory, ids, job.workload
        )

    @staticmethod
    def _fsync(job: Job, target: str, ids: list[int]) -> None:
        """Fsync ``target`` (a subdirectory, or "." for the save's own directory); where that fails (such as
        for a subdirectory swapped for a symbolic link), SaveError names the ids whose names it holds."""
        directories = job.dirs
        try:
            fsync_directory(target, directories.fd, os.path.normpath(os.path.join(directories.path, target)))
        except OSError as error:
            inside = [i for i in ids if target == "." or job.workload.file_name(i).startswith(f"{target}/")]
            raise SaveError(inside, error) from error
