"""The Workload protocol, for type checkers and ``isinstance``. It has a module of its own because ``typing``
costs a script about 10 ms to import: fileio itself checks the two methods directly
(:func:`fileio.workloads.is_workload`), and ``fileio.Workload`` loads this module when first used."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Workload(Protocol):
    """What every workload provides: a file name and the file's exact bytes, for each file id."""

    def file_name(self, file_id: int) -> str: ...

    def data(self, file_id: int) -> bytes: ...
