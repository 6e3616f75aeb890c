"""Confidence intervals over raw rounds: the one bootstrap that the gate and the verdict share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

CONFIDENCE = 0.95


def bootstrap_interval(
    samples: tuple[list[float], ...], statistic: Callable[..., Any], resamples: int, paired: bool = False
) -> tuple[float, float]:
    """The percentile bootstrap interval (``CONFIDENCE``) of ``statistic(*samples, axis=-1)``, each sample
    resampled on its own, or with ``paired`` the same sweeps of every sample together; seeded, so the same
    rounds always give the same interval."""
    import numpy as np
    from scipy.stats import bootstrap

    interval = bootstrap(
        samples,
        statistic,
        n_resamples=resamples,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        paired=paired,
        rng=np.random.default_rng(0),
    ).confidence_interval
    return float(interval.low), float(interval.high)
