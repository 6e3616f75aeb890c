"""fileio: the fastest safe way to save thousands of files from Python, measured.

Every strategy in :data:`STRATEGIES` is a :class:`Strategy`, called with one signature that
``help(fileio.Strategy.__call__)`` documents. ``__all__`` is the public API: the benchmark suite in ``bench/``
uses nothing else, so that it can measure older commits too; :data:`API_VERSION` tells it which names exist.
"""

from __future__ import annotations

from fileio.errors import SaveError, StrategyUnavailable
from fileio.report import SaveReport
from fileio.saver import WarmPool
from fileio.strategies import STRATEGIES, get_strategy
from fileio.strategy import Strategy
from fileio.workloads import (
    CsvWorkload,
    PayloadWorkload,
    ShardedWorkload,
    format_size,
    load_workload,
    parse_size,
)
from fileio.writer import DURABILITIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from fileio.plot import plot_run
    from fileio.probe import (
        Ceiling,
        fio_files_per_s,
        generation_seconds,
        measure_ceiling,
        probe_report,
        raw_write_seconds,
    )
    from fileio.verify import VerificationError, expected_digests, verify
    from fileio.workload_protocol import Workload

# Loaded when first used, so that `import fileio` costs a script little: measuring, plotting, verifying, and
# the Workload protocol (typing).
_LAZY = {
    "plot_run": "fileio.plot",
    **dict.fromkeys(
        [
            "Ceiling",
            "fio_files_per_s",
            "generation_seconds",
            "measure_ceiling",
            "probe_report",
            "raw_write_seconds",
        ],
        "fileio.probe",
    ),
    **dict.fromkeys(["VerificationError", "expected_digests", "verify"], "fileio.verify"),
    "Workload": "fileio.workload_protocol",
    "forget_measurements": "fileio.auto.figures",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        # All of the module's names at once: importing fileio.verify sets the attribute ``verify`` to the
        # module, which the function of that name must replace.
        globals().update({lazy: getattr(module, lazy) for lazy, home in _LAZY.items() if home == _LAZY[name]})
        return globals()[name]
    raise AttributeError(f"module 'fileio' has no attribute {name!r}")


# Raised whenever a name is added to __all__ or changes meaning; a benchmark suite that needs version N
# cannot measure a commit whose fileio is older, and says so instead of failing.
# 2 adds the probe (the machine's ceiling), plot_run and load_workload, which bench uses only where they are;
# 3 adds WarmPool and ShardedWorkload; 4 adds StrategyUnavailable; 5 adds ``pool=`` to every strategy's
# call, for those whose ``takes_pool`` is true; 6 adds forget_measurements.
API_VERSION = 6

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
    "forget_measurements",
    "verify",
]
