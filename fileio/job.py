"""The contract every strategy shares: argument checks, the per-file work, the report and the error."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from time import perf_counter

from fileio.guards import check_main_module, interrupts_once, raise_if_interrupted
from fileio.workloads import CsvWorkload, is_workload, subdirectories
from fileio.writer import (
    DURABILITIES,
    NOT_NAMES,
    Directories,
    fsync_directory,
    is_empty,
    open_regular,
    owner_token,
    remove_temporaries,
    write_file,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from fileio.saver import WarmPool
    from fileio.workload_protocol import Workload

    Progress = Callable[[Path], object]

DEFAULT_WORKLOAD = CsvWorkload()
SHOWN_IDS = 20

OnSaved = Callable[[int, int], None]


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


class Job:
    """Where and how to save: picklable, so workers in any process can do their share. Files are written
    only by a job from :meth:`opened`, which holds this process's descriptors of the directories."""

    def __init__(
        self,
        directory: str,
        workload: Workload,
        durability: str,
        owner: str,
        directories: Directories | None = None,
        pool: WarmPool | None = None,
        fresh: frozenset[str] = frozenset(),
    ) -> None:
        self.directory, self.workload, self.durability = directory, workload, durability
        self.owner = owner  # the saving process, named in temporaries (fileio.writer.owner_token)
        self.directories = directories
        self.pool = pool  # the caller's, for its workers
        # The directories ("." or a subdirectory's name) that were empty when the save began: nothing stood at
        # a final name there, which a write need not check (fileio.writer.open_in_place).
        self.fresh = fresh

    def __getstate__(self) -> dict[str, object]:
        # Descriptors are per process, each opens its own; a pool is the caller's.
        return {**self.__dict__, "directories": None, "pool": None}

    @contextmanager
    def opened(self, ids: Iterable[int] = ()) -> Iterator[Job]:
        """This job with its directory open (never through a symbolic link), for every file this process
        writes until the block ends; the descriptors are closed then. Where a close fails, SaveError names
        ``ids``, the files written through them."""
        directories = Directories(self.directory)
        try:
            yield Job(
                self.directory, self.workload, self.durability, self.owner, directories, self.pool, self.fresh
            )
        except BaseException:
            with suppress(OSError):  # the block's own error is the one to tell
                directories.close()
            raise
        try:
            directories.close()
        except OSError as error:
            raise SaveError(list(ids), error) from error

    @property
    def dirs(self) -> Directories:
        """This process's descriptors of the directories: those of a job from :meth:`opened`."""
        assert self.directories is not None, "files are written only by a job from Job.opened()"
        return self.directories

    def path(self, file_id: int) -> Path:
        from pathlib import Path  # only a save with a progress callback needs it

        return Path(self.file_path(file_id))

    def file_path(self, file_id: int) -> str:
        return os.path.join(self.directory, self.workload.file_name(file_id))

    def generate(self, file_id: int) -> bytes:
        try:
            return self.workload.data(file_id)
        except Exception as error:
            raise SaveError([file_id], error) from error

    def write(self, file_id: int, data: bytes) -> int:
        """Write one generated file; returns its size in bytes."""
        directories, name = self.dirs, self.workload.file_name(file_id)
        try:
            dir_fd, leaf = directories.acquire(name)
        except Exception as error:
            raise SaveError([file_id], error) from error
        try:
            fresh = "." in self.fresh if leaf is name else self.is_fresh(name)
            write_file(dir_fd, leaf, data, self.durability, self.owner, fresh)
        except Exception as error:
            raise SaveError([file_id], directories.named(error, name)) from error
        finally:
            directories.release(name)
        return len(data)

    def is_fresh(self, name: str) -> bool:
        """Whether the directory file ``name`` goes in was empty when the save began."""
        subdirectory, slash, _ = name.partition("/")
        return (subdirectory if slash else ".") in self.fresh

    def save(self, file_id: int) -> int:
        """Generate and write one file; returns its size in bytes."""
        return self.write(file_id, self.generate(file_id))

    def is_complete(self, file_id: int) -> bool:
        """Whether the file is already saved, as a regular file (a symbolic link never counts): atomic saves
        only ever leave complete files under final names; otherwise its bytes are compared with the
        workload's."""
        directories, name = self.dirs, self.workload.file_name(file_id)
        try:
            dir_fd, leaf = directories.acquire(name)
        except OSError:  # its subdirectory is missing, or not one
            return False
        try:
            fd = open_regular(leaf, dir_fd)
        finally:
            directories.release(name)
        if fd is None:
            return False
        with open(fd, "rb") as file:
            if self.durability == "atomic":
                return True
            saved = file.read()
        return saved == self.generate(file_id)


def _is_empty(target: str, dir_fd: int) -> bool:
    """Whether the save's directory ``target`` is empty; False where it cannot be listed (a link, refused
    later as a file goes in)."""
    try:
        return is_empty(target, dir_fd)
    except OSError:
        return False


def _check_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {value!r}")
    return value


def check_workers(workers: object) -> int:
    count = _check_int("workers", workers)
    if count < 1:
        raise ValueError(f"workers must be >= 1, got {count}")
    return count


def check_ids(ids: Iterable[int]) -> list[int]:
    """The ids as a list: non-negative ints, no repeats."""
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be an iterable of ints, got {ids!r}")
    checked = [_check_int("each id", file_id) for file_id in ids]
    seen: set[int] = set()
    for file_id in checked:
        if file_id < 0:
            raise ValueError(f"ids must be non-negative, got {file_id}")
        if file_id in seen:
            raise ValueError(f"id {file_id} is given more than once")
        seen.add(file_id)
    return checked


def check_directory(directory: object) -> str:
    """The target's path; it, or its nearest existing ancestor, must be a directory, and it must not be a
    symbolic link (which a save does not follow)."""
    path = os.fspath(directory) if isinstance(directory, (str, os.PathLike)) else None
    if not isinstance(path, str):
        raise TypeError(f"directory must be a path, got {directory!r}")
    # Without its trailing slashes, which would make the kernel follow a final symbolic link.
    path = path.rstrip("/") or ("/" if path else ".")
    if os.path.islink(path):
        raise ValueError(
            f"directory {path} is a symbolic link, which fileio will not follow: give the directory it leads "
            "to"
        )
    existing = path
    while not os.path.exists(existing) and os.path.dirname(existing) not in ("", existing):
        existing = os.path.dirname(existing)
    if os.path.exists(existing) and not os.path.isdir(existing):
        where = "is" if existing == path else f"is under {existing}, which is"
        raise ValueError(f"directory {path} {where} not a directory")
    return path


def check_names(workload: Workload, ids: list[int]) -> None:
    """Every id's file name stays inside the save directory: one name, or ``SUBDIRECTORY/NAME`` with one of
    the subdirectories the workload puts files in (:func:`fileio.workloads.subdirectories`); no empty part,
    ``.`` or ``..``, absolute path or NUL byte. ValueError names the id and the name."""
    allowed = set(subdirectories(workload, ids))
    for file_id in ids:
        name = workload.file_name(file_id)
        if isinstance(name, str) and "/" not in name and "\0" not in name and name not in NOT_NAMES:
            continue  # one name: the common case, checked first (a save of 128 small files spent 1.5 % here)
        parts = name.split("/") if isinstance(name, str) else []
        if (
            not 1 <= len(parts) <= 2
            or (len(parts) == 2 and parts[0] not in allowed)
            or any(part in NOT_NAMES or "\0" in part for part in parts)
        ):
            raise ValueError(
                f"id {file_id}: file name {name!r} is not a name inside the save directory: a file name must "
                "be one name (no '/', '.', '..', empty or absolute path), or SUBDIRECTORY/NAME for a "
                "ShardedWorkload's subdirectories"
            )


def check_workload(workload: object) -> Workload:
    if not is_workload(workload):
        raise TypeError(f"workload must have file_name(id) and data(id) methods, got {workload!r}")
    return workload


def check_durability(durability: object) -> str:
    if durability not in DURABILITIES:
        raise ValueError(f"durability must be one of {', '.join(DURABILITIES)}; got {durability!r}")
    return durability


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
        pool: WarmPool | None = None,
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
            temporary file and no worker process outlives the save. No symbolic link is ever followed: one
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
        reason = self.unavailable_reason
        if reason is not None:
            raise StrategyUnavailable(reason)
        job = Job(
            check_directory(directory),
            check_workload(workload),
            check_durability(durability),
            owner_token(),
            pool=self._check_pool(pool),
        )
        workers = check_workers(workers)
        checked_ids = check_ids(ids)
        check_names(job.workload, checked_ids)
        if self.starts_processes and not self.optional_processes and job.pool is None and self._reimports():
            check_main_module(self.name)
        with interrupts_once():
            return self._save(job, checked_ids, workers, progress, skip_existing)

    def _reimports(self) -> bool:
        """Whether its worker processes would re-import the main program: forked ones
        (:mod:`fileio.pools`) re-import nothing."""
        if not self.takes_pool:
            return True
        from fileio.costs import start_method

        return start_method() != "fork"

    def _check_pool(self, pool: object) -> WarmPool | None:
        from fileio.saver import WarmPool
        from fileio.strategies import STRATEGIES

        if pool is not None and not isinstance(pool, WarmPool):
            raise TypeError(f"pool must be a fileio.WarmPool, got {pool!r}")
        if pool is not None and not self.takes_pool:
            takers = ", ".join(name for name, strategy in STRATEGIES.items() if strategy.takes_pool)
            raise ValueError(f"strategy {self.name!r} cannot run on a WarmPool; pool= is for {takers}")
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
        job.fresh = frozenset(target for target in targets if _is_empty(target, directories.fd))
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
