"""fileio: the fastest safe way to save thousands of files from Python, measured.

Every strategy in :data:`STRATEGIES` is a :class:`Strategy`, called with one signature that
``help(fileio.Strategy.__call__)`` documents. ``__all__`` is the public API: the benchmark suite in ``bench/``
uses nothing else, so that it can measure older commits too; :data:`API_VERSION` tells it which names exist.
"""

from __future__ import annotations

from fileio.job import SaveError, SaveReport, Strategy
from fileio.strategies import STRATEGIES, get_strategy
from fileio.verify import VerificationError, expected_digests, verify
from fileio.workloads import CsvWorkload, PayloadWorkload, Workload, format_size, parse_size
from fileio.writer import DURABILITIES

# Raised whenever a name is added to __all__ or changes meaning; a benchmark suite that needs version N
# cannot measure a commit whose fileio is older, and says so instead of failing.
API_VERSION = 1

__all__ = [
    "API_VERSION",
    "DURABILITIES",
    "STRATEGIES",
    "CsvWorkload",
    "PayloadWorkload",
    "SaveError",
    "SaveReport",
    "Strategy",
    "VerificationError",
    "Workload",
    "expected_digests",
    "format_size",
    "get_strategy",
    "parse_size",
    "verify",
]
