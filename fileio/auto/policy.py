"""``auto``'s policy, pure: given what each option gave the last saves of such files, which to take
(Thompson sampling on each option's log speed-up over the caller alone; ``docs/auto.md``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from fileio.values import Frozen

TYPE_CHECKING = False
if TYPE_CHECKING:
    import random

# What starting workers costs a save before one is measured, by start kind (``fileio.start.start_kind``);
# "import" is loading the machinery, once per process (``python -m bench.starts``, docs/auto.md).
START_S = {"import": 0.02, "fork": 0.005, "forkserver-live": 0.03, "forkserver": 0.15, "spawn": 0.3}


class Tunables(Frozen):
    """Every setting of ``auto``, frozen."""

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


def estimate(figures: Sequence[float], first_guess: float, tunables: Tunables) -> tuple[float, float]:
    """The log speed-up's mean and standard deviation, from the figures and the guess (worth
    ``prior_weight`` figures)."""
    logs = [math.log(max(figure, 1e-3)) for figure in figures]
    weight = tunables.prior_weight + len(logs)
    mean = (tunables.prior_weight * math.log(first_guess) + sum(logs)) / weight
    return mean, tunables.spread / math.sqrt(weight)


def choose(
    guesses: Mapping[str, float],
    figures: Mapping[str, Sequence[float]],
    tunables: Tunables,
    rng: random.Random,
) -> str | None:
    """Of the options (each kind's first guess in ``guesses``), the one whose speed-up drawn from its estimate
    is highest, where above 1; else None, the caller alone."""
    chosen, highest = None, 1.0
    for kind, first_guess in guesses.items():
        drawn = math.exp(rng.gauss(*estimate(figures.get(kind, ()), first_guess, tunables)))
        if drawn > highest:
            chosen, highest = kind, drawn
    return chosen


def threads_first_guess(write_share: float, threads: int, gil: bool) -> float:
    """Amdahl's law: the writes in parallel (the kernel's part runs without the GIL), the making of the bytes
    one at a time where a GIL holds it."""
    serial = 1 - write_share if gil else 0.0
    return 1 / (serial + (1 - serial) / threads)


def processes_first_guess(start_s: float, alone_s: float, processes: int) -> float:
    """New processes' speed-up where starting them costs ``start_s`` against ``alone_s``, the caller's time
    alone."""
    return 1 / (start_s / max(alone_s, 1e-9) + 1 / processes)
