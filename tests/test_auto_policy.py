"""auto's policy on synthetic timings, without a clock: each save draws its choice from the figures the
earlier saves left, and a figure is what the chosen helpers truly gave, times the machine's noise. It must
converge to the best option, and its regret (the seconds it lost to the best option, over the seconds the
best took) must stay small. Seeded: the same draws every run."""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from fileio.auto.policy import Tunables, choose, estimate, threads_first_guess

TUNABLES = Tunables()
ALONE_S = 0.02  # a save the caller alone ends in 20 ms
FIRST_GUESSES = {"threads": 1.33, "processes": 2.0}
Gains = Callable[[int], dict[str, float]]  # each option's true speed-up, start-up included, at save number n


def simulate(gains: Gains, saves: int, noise: float, seed: int = 1) -> tuple[list[str], list[float]]:
    """Run ``saves`` saves; return what each chose ("alone" for none) and each one's regret. Helpers slower
    than the caller alone are stopped by the watch after ``watch_s``, and the caller saves the rest."""
    rng, noise_rng = random.Random(seed), random.Random(seed + 1)
    history: list[tuple[str, float]] = []  # as fileio.auto.figures keeps it: the last ``memory`` saves
    chosen_kinds, regrets = [], []
    for n in range(saves):
        true = gains(n)
        seconds = {kind: ALONE_S / gain for kind, gain in true.items()}
        for kind, gain in true.items():
            if gain < 1:  # watched: stopped after watch_s, in which they saved watch_s * gain of the work
                seconds[kind] = min(seconds[kind], ALONE_S + TUNABLES.watch_s * (1 - gain))
        best_s = min(ALONE_S, *seconds.values())
        figures: dict[str, list[float]] = {}
        for kind, gain in history:
            figures.setdefault(kind, []).append(gain)
        chosen = choose(FIRST_GUESSES, figures, TUNABLES, rng)
        kind = "alone" if chosen is None else chosen
        chosen_kinds.append(kind)
        regrets.append((ALONE_S if chosen is None else seconds[kind]) / best_s - 1)
        measured = 1.0 if chosen is None else true[kind] * math.exp(noise_rng.gauss(0, noise))
        history = [*history, (kind, measured)][-TUNABLES.memory :]
    return chosen_kinds, regrets


def steady(threads: float, processes: float) -> Gains:
    return lambda n: {"threads": threads, "processes": processes}


@pytest.mark.parametrize(
    ("gains", "best", "share"),
    [
        (steady(1.3, 1.1), "threads", 0.6),  # a close call: processes are second by 15 %
        (steady(0.5, 0.5), "alone", 0.85),  # helpers lose, 0.5x
        (steady(0.9, 1.8), "processes", 0.85),
    ],
)
@pytest.mark.parametrize("noise", [0.05, 0.3])  # a quiet machine, a noisy one (one figure in three off 30 %)
def test_it_converges_and_its_regret_is_bounded(gains: Gains, best: str, share: float, noise: float) -> None:
    """Over 20 seeds: from the 10th save on it takes the best option in at least ``share`` of the saves; over
    200 saves it loses at most 8 % to the best option (exploring included), 5 % on average over the seeds."""
    mean_regrets = []
    for seed in range(20):
        kinds, regrets = simulate(gains, 200, noise, seed)
        assert kinds[10:].count(best) >= share * len(kinds[10:]), (seed, kinds[:40])
        mean_regrets.append(sum(regrets) / len(regrets))
    assert max(mean_regrets) <= 0.08 and sum(mean_regrets) / 20 <= 0.05, mean_regrets


def test_it_follows_helpers_that_drift_from_paying_to_losing() -> None:
    """Threads pay 1.3x for 50 saves, then lose (0.7x), and so on: over 20 seeds, from ``memory`` saves
    after each change it takes the new best in at least 3 of every 4 saves."""
    settled = 50 - TUNABLES.memory
    for seed in range(20):
        kinds, _ = simulate(
            lambda n: {"threads": 1.3 if n // 50 % 2 == 0 else 0.7, "processes": 0.6}, 200, 0.1, seed
        )
        for change, best in [(50, "alone"), (100, "threads"), (150, "alone")]:
            after = kinds[change + TUNABLES.memory : change + 50]
            assert after.count(best) >= 0.75 * settled, (seed, change, kinds[change : change + 50])


def test_an_option_near_the_best_is_drawn_now_and_then_one_far_behind_is_not() -> None:
    """With eight figures each, processes at 1.2x beside threads at 1.3x are drawn now and then; at 0.5x,
    never."""
    rng = random.Random(3)
    near = {"threads": [1.3] * 8, "processes": [1.2] * 8}
    far = {"threads": [1.3] * 8, "processes": [0.5] * 8}
    draws = [choose(FIRST_GUESSES, near, TUNABLES, rng) for _ in range(1000)]
    assert 50 < sum(kind == "processes" for kind in draws) < 450
    draws = [choose(FIRST_GUESSES, far, TUNABLES, rng) for _ in range(1000)]
    assert not any(kind == "processes" for kind in draws)


def test_the_first_guess_counts_as_prior_weight_figures() -> None:
    mean, deviation = estimate([1.0] * 2, first_guess=4.0, tunables=Tunables(prior_weight=2.0, spread=0.3))
    assert mean == pytest.approx(math.log(2.0))  # (2 log 4 + 2 log 1) / 4
    assert deviation == pytest.approx(0.3 / 2)


@pytest.mark.parametrize(("write_share", "guess"), [(1.0, 2.0), (0.0, 1.0), (0.5, 4 / 3)])
def test_threads_first_guess_parallels_only_the_writes(write_share: float, guess: float) -> None:
    assert threads_first_guess(write_share, 2, gil=True) == pytest.approx(guess)
    assert threads_first_guess(write_share, 2, gil=False) == pytest.approx(2.0)  # no GIL: everything


def test_the_settings_are_frozen_values() -> None:
    """Tunables cannot change once made (a setting is changed by making others), and compare by their
    fields, as a Key does."""
    with pytest.raises(AttributeError, match="frozen"):
        TUNABLES.memory = 3  # type: ignore[misc]
    assert Tunables(memory=3) == Tunables(memory=3) != TUNABLES
    assert hash(Tunables(memory=3)) == hash(Tunables(memory=3))
