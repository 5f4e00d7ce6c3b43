"""The charts read on their own: round timeline bins, and a 0% bar that is visibly there."""

from __future__ import annotations

import math
import re

import pytest
from factories import cell_verdict

from harness.report.charts import (
    PALETTE,
    TIMELINE_BINS,
    duplicate_rate_chart,
    timeline_bin_width,
    timeline_chart,
)


@pytest.mark.parametrize(
    ("span_s", "width_s"), [(1.0, 0.05), (3.2, 0.1), (21.5, 1.0), (74.0, 2.0), (300.0, 10.0), (3600.0, 100.0)]
)
def test_timeline_bins_are_round_and_about_thirty(span_s: float, width_s: float) -> None:
    assert timeline_bin_width(span_s) == pytest.approx(width_s)


@pytest.mark.parametrize("span_s", [0.0, 0.013, 0.4, 1.0, 7.7, 59.0, 61.0, 999.0, 86_400.0])
def test_timeline_bins_stay_near_the_aim_whatever_the_span(span_s: float) -> None:
    width = timeline_bin_width(span_s)
    mantissa = width / 10 ** math.floor(math.log10(width))

    assert round(mantissa, 6) in {1.0, 2.0, 5.0}
    if span_s > 0:
        assert TIMELINE_BINS / 2.5 <= span_s / width <= TIMELINE_BINS * 2.5


def test_a_one_second_cell_has_many_steps_and_says_its_bin() -> None:
    cell = cell_verdict("naive", "drop", effect_times=tuple(index / 100 for index in range(100)))

    svg = timeline_chart(cell, salt="one-second")

    assert "effects per 50 ms" in svg


def test_a_zero_rate_bar_gets_a_marker_and_a_label() -> None:
    cells = (
        cell_verdict("naive", "drop", operations=40, ops_with_duplicates=8),
        cell_verdict("idempotent", "drop", operations=40),
    )

    svg = duplicate_rate_chart(cells, ("naive", "idempotent"), ("drop",))
    labels = re.findall(r">([0-9.]+%)<", svg)

    assert labels == ["20.0%", "0%"]
    # one marker in idempotent's colour (the second of the palette), outlined so it shows on the axis
    assert len(re.findall(rf'<use [^>]*style="fill: {PALETTE[1]}; stroke: #111827', svg)) == 1
