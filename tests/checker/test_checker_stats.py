"""The Wilson interval against published values and against an independent root-finding reference."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.stats import Z_95, wilson_interval
from harness.verdict import Interval


def _score_bounds(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson interval by its definition, not its closed form: the proportions p for which the
    score test |p_hat - p| <= z * sqrt(p (1 - p) / n) does not reject, found by bisection."""
    p_hat = successes / trials

    def accepted(p: float) -> bool:
        return abs(p_hat - p) <= z * math.sqrt(p * (1 - p) / trials)

    def boundary(inside: float, outside: float) -> float:
        for _ in range(200):
            middle = (inside + outside) / 2
            if accepted(middle):
                inside = middle
            else:
                outside = middle
        return inside

    low = 0.0 if successes == 0 else boundary(p_hat, 0.0)
    high = 1.0 if successes == trials else boundary(p_hat, 1.0)
    return low, high


def test_zero_trials_is_the_whole_range() -> None:
    assert wilson_interval(0, 0) == Interval(0.0, 1.0)


def test_zero_of_ten_matches_the_published_upper_bound() -> None:
    # 0/10: upper bound z^2 / (n + z^2) = 3.8415 / 13.8415 = 0.2775 (Newcombe 1998, table I).
    interval = wilson_interval(0, 10)
    assert interval.low == 0.0
    assert interval.high == pytest.approx(Z_95**2 / (10 + Z_95**2), abs=1e-12)
    assert interval.high == pytest.approx(0.2775, abs=5e-5)


def test_five_of_ten() -> None:
    interval = wilson_interval(5, 10)
    assert interval.low == pytest.approx(0.2366, abs=5e-5)
    assert interval.high == pytest.approx(0.7634, abs=5e-5)
    # symmetric around one half
    assert interval.low + interval.high == pytest.approx(1.0, abs=1e-12)


def test_ten_of_ten_mirrors_zero_of_ten() -> None:
    interval = wilson_interval(10, 10)
    assert interval.high == 1.0
    assert interval.low == pytest.approx(1 - 0.2775328, abs=1e-6)


def test_one_of_a_thousand() -> None:
    interval = wilson_interval(1, 1000)
    assert interval.low == pytest.approx(0.000177, abs=5e-7)
    assert interval.high == pytest.approx(0.005643, abs=5e-7)


def test_a_wider_z_gives_a_wider_interval() -> None:
    narrow = wilson_interval(3, 20)
    wide = wilson_interval(3, 20, z=2.5758293035489)
    assert wide.low < narrow.low < narrow.high < wide.high


@pytest.mark.parametrize(
    ("successes", "trials", "z"),
    [(-1, 10, Z_95), (11, 10, Z_95), (0, -1, Z_95), (1, 2, 0.0), (1, 2, math.inf)],
)
def test_nonsense_inputs_are_refused(successes: int, trials: int, z: float) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, trials, z)


@given(
    st.integers(min_value=1, max_value=100_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))
)
def test_matches_the_score_test_definition(case: tuple[int, int]) -> None:
    successes, trials = case
    interval = wilson_interval(successes, trials)
    low, high = _score_bounds(successes, trials)
    assert interval.low == pytest.approx(low, abs=1e-9)
    assert interval.high == pytest.approx(high, abs=1e-9)
    assert 0.0 <= interval.low <= successes / trials <= interval.high <= 1.0
