"""The always-valid bounds: exact values, and simulated cells looked at after every operation.

The simulations are the point: a cell whose true rate sits exactly at its gate's threshold must reach a
wrong verdict (its bound excluding the truth at some look) in at most ``alpha`` of runs, however often it is
looked at; and the same looks with a fixed-sample interval must be shown to fail that, or the test proves
nothing.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import pytest

from harness.sequential import (
    log_mixture_martingale,
    mixture_bounds,
    trials_to_rule_out,
    zero_events_upper_bound,
)
from harness.stats import wilson_interval

ALPHA = 0.05
CELLS = 2000
MONTE_CARLO_TOLERANCE = 0.015  # three standard errors of a 5% rate over 2,000 cells
LEVEL = -math.log(ALPHA)


def test_the_zero_events_bound_is_the_rule_of_three() -> None:
    assert zero_events_upper_bound(0, ALPHA) == 1.0
    assert zero_events_upper_bound(149, ALPHA) == pytest.approx(1 - 0.05 ** (1 / 149))
    assert zero_events_upper_bound(149, ALPHA) < 0.02 <= zero_events_upper_bound(148, ALPHA)
    assert trials_to_rule_out(0.02, ALPHA) == 149
    assert trials_to_rule_out(0.1, ALPHA) == 29  # about 3 / 0.1


def test_mixture_bounds_hold_the_observed_rate_and_are_wider_than_wilson() -> None:
    bounds = mixture_bounds(30, 150, ALPHA)
    wilson = wilson_interval(30, 150)
    assert bounds.low < wilson.low < 0.2 < wilson.high < bounds.high
    assert mixture_bounds(0, 0, ALPHA) == mixture_bounds(0, 0, 0.5)
    assert mixture_bounds(0, 50, ALPHA).low == 0.0 and mixture_bounds(50, 50, ALPHA).high == 1.0
    # each bound is where the evidence against the rate reaches 1/alpha
    assert log_mixture_martingale(30, 150, bounds.low) == pytest.approx(LEVEL, abs=1e-6)
    assert log_mixture_martingale(30, 150, bounds.high) == pytest.approx(LEVEL, abs=1e-6)


@pytest.mark.parametrize("events, trials", [(-1, 3), (4, 3), (0, -1)])
def test_impossible_counts_are_refused(events: int, trials: int) -> None:
    with pytest.raises(ValueError, match="events <= trials"):
        mixture_bounds(events, trials, ALPHA)


def _simulate(rate: float, looks: int, wrong_at: Callable[[int, int], bool], seed: int) -> float:
    """The share of ``CELLS`` simulated cells with a true ``rate`` where ``wrong_at(events, trials)``
    is true at any of ``looks`` looks, one after every operation."""
    rng = random.Random(seed)
    wrong = 0
    for _ in range(CELLS):
        events = 0
        for trials in range(1, looks + 1):
            events += rng.random() < rate
            if wrong_at(events, trials):
                wrong += 1
                break
    return wrong / CELLS


def test_looking_after_every_operation_keeps_the_mixture_within_alpha() -> None:
    threshold = 0.1  # the true rate is the threshold: any decision, pass or fail, is wrong

    def decided(events: int, trials: int) -> bool:
        return log_mixture_martingale(events, trials, threshold) >= LEVEL

    assert _simulate(threshold, 300, decided, seed=1) <= ALPHA + MONTE_CARLO_TOLERANCE


def test_looking_after_every_operation_keeps_the_rule_of_three_within_alpha() -> None:
    resolution = 0.05  # a zero gate passes wrongly when the true rate is the resolution

    def passed(events: int, trials: int) -> bool:
        return events == 0 and zero_events_upper_bound(trials, ALPHA) < resolution

    assert _simulate(resolution, 300, passed, seed=2) <= ALPHA + MONTE_CARLO_TOLERANCE


def test_fixed_sample_intervals_looked_at_after_every_operation_would_exceed_alpha() -> None:
    """The same looks with the Wilson interval (right for one look at a fixed size) go wrong far more
    often than 5%: this is what the always-valid bounds are for, and shows the tests above can fail."""
    threshold = 0.1

    def decided(events: int, trials: int) -> bool:
        interval = wilson_interval(events, trials)
        return trials >= 10 and not interval.low <= threshold <= interval.high

    assert _simulate(threshold, 300, decided, seed=1) > ALPHA + 3 * MONTE_CARLO_TOLERANCE
