"""Always-valid bounds for a proportion that is looked at again and again while it grows.

A running cell is looked at every half second, and it stops as soon as its gates are decided. A fixed-
sample interval (the Wilson interval of :mod:`harness.stats`) is the wrong tool for that: each look is
another chance for noise to cross the threshold, and stopping at the first crossing turns a 5% error
into 20% or more after a few hundred looks (the tests show it). The bounds here are *confidence
sequences*: they hold at every sample size at once, so the cell may stop at whichever look decides it,
and the chance that any look ever decides wrongly stays below ``alpha``.

Both rest on Ville's inequality: a nonnegative supermartingale that starts at 1 ever reaches
``1/alpha`` with probability at most ``alpha``. Each bound is the set of rates whose test
supermartingale has not reached ``1/alpha`` yet.

* :func:`zero_events_upper_bound`, for a zero-tolerance gate (``max_duplicate_rate: 0``). To show that
  the rate is below a resolution ``ε`` when nothing has happened, bet that nothing will: the process
  ``1{no event in n trials} / (1-ε)^n`` has expectation at most 1 at every step whenever the true rate
  is ``ε`` or more. It reaches ``1/alpha`` after ``ln(1/alpha) / -ln(1-ε)`` clean trials, about
  ``3/ε`` at 95%: the rule of three, which therefore survives any number of looks. The first event
  ends the bet for good, so no later look can pass.
* :func:`mixture_bounds`, for any other threshold: Robbins' beta-binomial mixture (Robbins 1970;
  Howard, Ramdas, McAuliffe and Sekhon 2021, "Time-uniform, nonparametric, nonasymptotic confidence
  sequences"). For each candidate rate ``p`` the likelihood ratio of a uniform mixture of rates against
  ``p`` is a martingale when ``p`` is the truth; the rates where it is still below ``1/alpha`` form an
  interval that shrinks like ``sqrt(log n / n)``, a little wider than Wilson's, which is the price of
  looking whenever we like.

Pure functions of counts: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from harness.verdict import Interval

PRIOR_A = 1.0
PRIOR_B = 1.0
"""The mixture's Beta prior over rates: uniform, so no rate is favoured; any fixed prior is valid."""

_BISECTION_STEPS = 60  # halves [0, 1] to below 1e-18: far finer than any rate we print


def _check_counts(events: int, trials: int, alpha: float) -> None:
    if trials < 0 or not 0 <= events <= trials:
        raise ValueError(f"need 0 <= events <= trials (got {events} of {trials})")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1) (got {alpha})")


def zero_events_upper_bound(trials: int, alpha: float) -> float:
    """The always-valid upper bound of a rate after ``trials`` trials without a single event.

    ``1 - alpha ** (1/trials)``: the smallest resolution ``ε`` whose bet ``1/(1-ε)^n`` has reached
    ``1/alpha``. With no trials nothing is known (1.0).
    """
    _check_counts(0, trials, alpha)
    return 1.0 if trials == 0 else -math.expm1(math.log(alpha) / trials)


def trials_to_rule_out(resolution: float, alpha: float) -> int:
    """How many clean trials :func:`zero_events_upper_bound` needs to fall below ``resolution``."""
    if not 0 < resolution < 1:
        raise ValueError(f"resolution must be within (0, 1) (got {resolution})")
    _check_counts(0, 0, alpha)
    needed = math.log(alpha) / math.log1p(-resolution)
    # the smallest n with bound(n) < resolution; rounding may put the exact boundary one either side
    trials = max(1, math.floor(needed))
    while zero_events_upper_bound(trials, alpha) >= resolution:
        trials += 1
    return trials


def log_mixture_martingale(events: int, trials: int, rate: float) -> float:
    """``log`` of Robbins' mixture martingale at ``rate``: the evidence against the rate being ``rate``.

    The marginal likelihood of the counts under a Beta(``PRIOR_A``, ``PRIOR_B``) mixture of rates,
    divided by their likelihood under ``rate``: ``B(a+x, b+n-x) / B(a, b) / (p^x (1-p)^(n-x))``.
    """
    _check_counts(events, trials, 0.5)
    misses = trials - events
    mixture = _log_beta(PRIOR_A + events, PRIOR_B + misses) - _log_beta(PRIOR_A, PRIOR_B)
    return mixture - _log_likelihood(events, misses, rate)


def mixture_bounds(events: int, trials: int, alpha: float) -> Interval:
    """The always-valid interval of a rate after ``events`` in ``trials``: every rate ``p`` whose
    :func:`log_mixture_martingale` is still below ``log(1/alpha)``.

    The martingale is convex in ``p`` around the observed rate, so each bound is found by bisection
    on its side of it.
    """
    _check_counts(events, trials, alpha)
    if trials == 0:
        return Interval(0.0, 1.0)
    level = -math.log(alpha)
    observed = events / trials

    def rejected(rate: float) -> bool:
        return log_mixture_martingale(events, trials, rate) >= level

    low = 0.0 if events == 0 else _boundary(observed, 0.0, rejected)
    high = 1.0 if events == trials else _boundary(observed, 1.0, rejected)
    return Interval(low, high)


def _boundary(inside: float, outside: float, rejected: Callable[[float], bool]) -> float:
    """The point between ``inside`` (not rejected) and ``outside`` where rejection starts; the bound
    returned is on the safe side (still not rejected, or the edge itself)."""
    if not rejected(outside):
        return outside
    for _ in range(_BISECTION_STEPS):
        middle = (inside + outside) / 2
        if rejected(middle):
            outside = middle
        else:
            inside = middle
    return outside


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _log_likelihood(events: int, misses: int, rate: float) -> float:
    """``log(p^x (1-p)^(n-x))``, with ``0 * log 0 = 0`` at the edges."""
    if (rate <= 0 and events) or (rate >= 1 and misses):
        return -math.inf
    hits = events * math.log(rate) if events else 0.0
    fails = misses * math.log1p(-rate) if misses else 0.0
    return hits + fails
