"""One save's work, shared by every strategy: the directory, the workload, the durability, and what saving
one file takes (:class:`Job`); the pool a strategy may run on (:class:`Pool`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress

from fileio.errors import SaveError
from fileio.writer import (
    Directories,
    is_empty,
    open_regular,
    write_file,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from fileio.workload_protocol import Workload

OnSaved = Callable[[int, int], None]


class Pool:
    """Worker processes that stay up between saves, which a strategy whose ``takes_pool`` is true runs on:
    :class:`fileio.WarmPool` is the one."""

    workers: int

    @property
    def running(self) -> bool:
        """Whether its workers are up, so that a save needs not start any."""
        raise NotImplementedError

    def workers_for_save(self) -> Any:
        """The workers (:class:`fileio.pools.Workers`), started if need be, without waiting for them."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the worker processes."""
        raise NotImplementedError


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
        pool: Pool | None = None,
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


def is_empty_at(target: str, dir_fd: int) -> bool:
    """Whether the save's directory ``target`` is empty; False where it cannot be listed (a link, refused
    later as a file goes in)."""
    try:
        return is_empty(target, dir_fd)
    except OSError:
        return False
