"""fileio: the fastest safe way to save thousands of files from Python, measured.

Every strategy in :data:`STRATEGIES` is a :class:`Strategy`, called with one signature that
``help(fileio.Strategy.__call__)`` documents. ``__all__`` is what a user calls; measuring, plotting and
verifying by digest live in their modules (:mod:`fileio.ceiling`, :mod:`fileio.plot`,
:mod:`fileio.verification`).
:data:`API_VERSION` says what a fileio offers the benchmark suite, which measures older commits too.
"""

from __future__ import annotations

from fileio.errors import SaveError, StrategyUnavailable
from fileio.report import SaveReport
from fileio.saver import WarmPool
from fileio.strategies import STRATEGIES, get_strategy
from fileio.strategy import Strategy
from fileio.workloads import CsvWorkload, PayloadWorkload, ShardedWorkload, load_workload
from fileio.writer import DURABILITIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from fileio.verification import VerificationError, verify
    from fileio.workload_protocol import Workload

# Loaded when first used, so that `import fileio` costs a script little: verifying, and the Workload
# protocol (typing).
_LAZY = {
    **dict.fromkeys(["VerificationError", "verify"], "fileio.verification"),
    "Workload": "fileio.workload_protocol",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        globals().update({lazy: getattr(module, lazy) for lazy, home in _LAZY.items() if home == _LAZY[name]})
        return globals()[name]
    raise AttributeError(f"module 'fileio' has no attribute {name!r}")


# What this fileio offers, raised whenever a public name (``__all__``), or one the benchmark suite takes from
# fileio.ceiling, fileio.plot, fileio.verification, fileio.workloads or fileio.auto.figures, is added or
# changes meaning: a benchmark suite that needs version N cannot measure an older fileio, and says so instead
# of failing. 2 adds the probe, plot_run and load_workload; 3 WarmPool and ShardedWorkload;
# 4 StrategyUnavailable; 5 ``pool=``; 6 forget_measurements; 7 moves what measures, plots and verifies out of
# ``__all__`` into its module, and forget_measurements into fileio.auto.figures; 8 moves measure_ceiling
# from fileio.probe to fileio.ceiling, and fileio.verify (the module, whose import hid the function
# ``fileio.verify``) to fileio.verification.
API_VERSION = 8

__all__ = [
    "DURABILITIES",
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
    "get_strategy",
    "load_workload",
    "verify",
]
