"""fileio: the fastest safe way to save thousands of files from Python, measured.

Every strategy in :data:`STRATEGIES` is a :class:`Strategy`, called with one signature that
``help(fileio.Strategy.__call__)`` documents. ``__all__`` is the public API: the benchmark suite in ``bench/``
uses nothing else, so that it can measure older commits too; :data:`API_VERSION` tells it which names exist.
"""

from __future__ import annotations

from fileio.job import SaveError, SaveReport, Strategy, StrategyUnavailable
from fileio.plot import plot_run
from fileio.probe import (
    Ceiling,
    fio_files_per_s,
    generation_seconds,
    measure_ceiling,
    probe_report,
    raw_write_seconds,
)
from fileio.saver import WarmPool
from fileio.strategies import STRATEGIES, get_strategy
from fileio.verify import VerificationError, expected_digests, verify
from fileio.workloads import (
    CsvWorkload,
    PayloadWorkload,
    ShardedWorkload,
    Workload,
    format_size,
    load_workload,
    parse_size,
)
from fileio.writer import DURABILITIES

# Raised whenever a name is added to __all__ or changes meaning; a benchmark suite that needs version N
# cannot measure a commit whose fileio is older, and says so instead of failing.
# 2 adds the probe (the machine's ceiling), plot_run and load_workload, which bench uses only where they are;
# 3 adds WarmPool and ShardedWorkload; 4 adds StrategyUnavailable.
API_VERSION = 4

__all__ = [
    "API_VERSION",
    "DURABILITIES",
    "Ceiling",
    "STRATEGIES",
    "CsvWorkload",
    "PayloadWorkload",
    "SaveError",
    "SaveReport",
    "ShardedWorkload",
    "Strategy",
    "StrategyUnavailable",
    "VerificationError",
    "WarmPool",
    "Workload",
    "expected_digests",
    "fio_files_per_s",
    "format_size",
    "generation_seconds",
    "get_strategy",
    "load_workload",
    "measure_ceiling",
    "parse_size",
    "plot_run",
    "probe_report",
    "raw_write_seconds",
    "verify",
]
