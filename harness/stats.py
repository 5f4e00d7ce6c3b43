"""Confidence intervals for the proportions the checker reports.

A duplicate-effect rate measured on a few hundred operations is an estimate, and a gate that compares
it with a threshold must know how far off it may be. We use the Wilson score interval rather than the
textbook normal ("Wald") interval because the rates we care about sit at the edges: an idempotent
variant should show 0 duplicates, and Wald collapses to the width-zero interval [0, 0] there, which
would claim certainty from a handful of operations. Wilson stays honest at 0 and at n, and is exact
enough for the sizes we run.
"""

from __future__ import annotations

import math

from harness.verdict import Interval

Z_95 = 1.959963984540054
"""The two-sided 95% quantile of the standard normal distribution."""


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> Interval:
    """The Wilson score interval for ``successes`` out of ``trials``, clamped to [0, 1].

    With no trials nothing is known, so the interval is the whole range [0, 1] rather than an error:
    an empty cell is a legitimate (if useless) measurement. The bounds are clamped because rounding
    can push the exact 0 or 1 bound a hair outside the range.
    """
    if trials < 0:
        raise ValueError(f"trials must be >= 0, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be within 0..{trials}, got {successes}")
    if not (z > 0 and math.isfinite(z)):
        raise ValueError(f"z must be a positive finite number, got {z}")
    if trials == 0:
        return Interval(0.0, 1.0)
    n = float(trials)
    proportion = successes / n
    z_squared = z * z
    denominator = 1.0 + z_squared / n
    centre = (proportion + z_squared / (2.0 * n)) / denominator
    half_width = (z / denominator) * math.sqrt(
        proportion * (1.0 - proportion) / n + z_squared / (4.0 * n * n)
    )
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == trials else min(1.0, centre + half_width)
    return Interval(low, high)
