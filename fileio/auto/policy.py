"""``auto``'s policy, pure: given what each option gave the last saves of such files, which to take.

An option's speed-up is over the caller alone, for the whole rest of a save, start-up included. It is
estimated in logs: the mean of its figures from the last ``memory`` saves of such files and a first guess
worth ``prior_weight`` figures, with an uncertainty that shrinks as ``spread / sqrt(prior_weight +
figures)``. A save draws one speed-up per option from that estimate (Thompson sampling, the one exploration
rule) and takes the highest, where it is above 1; else the caller saves alone. An option close to the best
is so tried now and then; one far behind, once its figures have aged out of the last ``memory`` saves (a
machine changes). ``docs/auto.md`` gives the measurements behind the defaults.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from fileio.values import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    import random


class Tunables(Frozen):
    """Every setting of ``auto``, frozen (:mod:`fileio.values`: ``dataclasses`` would cost ``import fileio``
    milliseconds)."""

    __slots__ = ("check_s", "prior_weight", "spread", "memory", "watch_s", "keep_idle_s")
    check_s: float
    prior_weight: float
    spread: float
    memory: int
    watch_s: float
    keep_idle_s: float

    def __init__(
        self,
        check_s: float = 0.001,  # after helpers the caller saves alone this long (<= 1/16 of it): its pace
        prior_weight: float = 0.5,  # how many measured figures a first guess is worth
        spread: float = 0.15,  # one figure's spread in log speed-up: how widely options are tried
        memory: int = 24,  # saves of such files whose figures count; an option untried longer: its guess
        watch_s: float = 0.01,  # helpers behind the caller alone after this long are stopped
        keep_idle_s: float = 300.0,  # kept worker processes exit after this long without a save; 0 keeps none
    ) -> None:
        self._freeze(locals())


class Option(Frozen):
    """A way to bring in help, and its speed-up before any is measured."""

    __slots__ = ("kind", "first_guess")
    kind: str
    first_guess: float

    def __init__(self, kind: str, first_guess: float) -> None:
        self._freeze(locals())


def estimate(figures: Sequence[float], first_guess: float, tunables: Tunables) -> tuple[float, float]:
    """The log speed-up's mean and standard deviation, from the figures and the guess."""
    logs = [math.log(max(figure, 1e-3)) for figure in figures]
    weight = tunables.prior_weight + len(logs)
    mean = (tunables.prior_weight * math.log(first_guess) + sum(logs)) / weight
    return mean, tunables.spread / math.sqrt(weight)


def choose(
    options: Sequence[Option], figures: Mapping[str, Sequence[float]], tunables: Tunables, rng: random.Random
) -> Option | None:
    """The option whose drawn speed-up is highest, where it is above 1; else None, the caller alone."""
    chosen, highest = None, 1.0
    for option in options:
        mean, deviation = estimate(figures.get(option.kind, ()), option.first_guess, tunables)
        drawn = math.exp(rng.gauss(mean, deviation))
        if drawn > highest:
            chosen, highest = option, drawn
    return chosen


def threads_first_guess(write_share: float, threads: int, gil: bool) -> float:
    """Threads' speed-up before one is measured: the writes in parallel (the kernel's part of a write runs
    without the GIL), the making of the bytes one at a time (Amdahl's law) where a GIL holds it."""
    serial = 1 - write_share if gil else 0.0
    return 1 / (serial + (1 - serial) / threads)
