"""What the tables, the verdict and the gate make of raw rounds: one estimate of a ratio and one bootstrap.

A ratio of two cases is taken sweep by sweep, and its estimate is the geometric mean of those per-sweep ratios
with the smallest and largest ``TRIM`` of them left out. On this project's VMs a round's noise is close to
normal with a few outliers: the trimmed mean used about a quarter fewer sweeps than the median of the ratios
for the same run-to-run agreement (measured on 60-sweep runs split in halves), and still ignores the outliers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

CONFIDENCE = 0.95
TRIM = 0.2  # left out at each end


def typical_log(logs: Any, axis: int = -1) -> Any:
    """The trimmed mean of per-sweep log ratios (or of stacks of resamples along ``axis``)."""
    from scipy.stats import trim_mean

    return trim_mean(logs, TRIM, axis=axis)


def log_change(before: Any, after: Any, axis: int = -1) -> Any:
    """How the typical log moved from one run's per-sweep logs to another's (their sweeps unpaired; or
    stacks of resamples along ``axis``)."""
    return typical_log(after, axis=axis) - typical_log(before, axis=axis)


def typical_ratio(numerator: Any, denominator: Any, axis: int = -1) -> Any:
    """The typical per-sweep ratio: each round over the round of the same sweep, as ``typical_log``."""
    import numpy as np

    return np.exp(typical_log(np.log(np.asarray(numerator) / np.asarray(denominator)), axis=axis))


def same_sweeps(first: Sequence[float], second: Sequence[float]) -> tuple[list[float], list[float]]:
    """The rounds of the sweeps that both ran in: the first ones. A case the gate has decided is measured no
    more (``bench.sweep``), so each case's rounds are those of the run's first sweeps."""
    count = min(len(first), len(second))
    return list(first[:count]), list(second[:count])


def typical_log_half_width(logs: list[float], confidence: float = CONFIDENCE) -> float:
    """The half-width of ``typical_log``'s interval at ``confidence``: its standard error from the winsorized
    variance, times Student's t for the values the trimming keeps (Tukey and McLaughlin), so that few sweeps
    read wide."""
    import numpy as np
    from scipy.stats import t
    from scipy.stats.mstats import winsorize

    values = np.asarray(logs)
    kept = len(values) - 2 * int(TRIM * len(values))
    if kept < 2:
        return float("inf")
    spread = float(np.asarray(winsorize(values, limits=(TRIM, TRIM))).std(ddof=1))
    quantile = float(t.ppf((1 + confidence) / 2, kept - 1))
    return quantile * spread / ((1 - 2 * TRIM) * float(np.sqrt(len(values))))


def bootstrap_interval(
    samples: tuple[list[float], ...],
    statistic: Callable[..., Any],
    resamples: int,
    paired: bool = False,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """The expanded percentile bootstrap interval (``confidence``) of ``statistic(*samples, axis=-1)``, each
    sample resampled on its own, or with ``paired`` the same sweeps of every sample together; seeded, so the
    same rounds always give the same interval.

    A plain percentile interval over few sweeps is too narrow (over 3 sweeps it holds the truth about 3 times
    in 4, not 19 in 20): its level is widened as Student's t widens a normal interval for ``n`` values
    (Hesterberg, "What teachers should know about the bootstrap", 2015). From 20 sweeps on, little changes.
    """
    import numpy as np
    from scipy.stats import bootstrap, norm, t

    n = min(len(sample) for sample in samples)
    if n < 2:
        return -np.inf, np.inf
    widened = np.sqrt(n / (n - 1)) * t.ppf((1 + confidence) / 2, n - 1)
    interval = bootstrap(
        samples,
        statistic,
        n_resamples=resamples,
        confidence_level=min(float(2 * norm.cdf(widened) - 1), 1 - 2 / resamples),  # the widest it can give
        method="percentile",
        vectorized=True,
        paired=paired,
        rng=np.random.default_rng(0),
    ).confidence_interval
    return float(interval.low), float(interval.high)
