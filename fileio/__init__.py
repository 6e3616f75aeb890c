"""fileio: the fastest safe way to save thousands of files from Python, measured.

Every strategy in :data:`STRATEGIES` has one signature::

    save(directory, ids, *, workers, workload=CsvWorkload(), durability="none", progress=None) -> SaveReport
"""

from __future__ import annotations

from fileio.job import SaveError, SaveReport
from fileio.strategies import STRATEGIES, get_strategy
from fileio.verify import VerificationError, verify
from fileio.workloads import CsvWorkload, PayloadWorkload, Workload
from fileio.writer import DURABILITIES

__all__ = [
    "DURABILITIES",
    "STRATEGIES",
    "CsvWorkload",
    "PayloadWorkload",
    "SaveError",
    "SaveReport",
    "VerificationError",
    "Workload",
    "get_strategy",
    "verify",
]
