"""How numbers and cells read everywhere: in gate messages, baseline messages and every report format.

One module, below the gates and the reports, so the terminal, the HTML page, JUnit and a baseline
comparison say the same thing the same way: a rate printed as ``12.5% [8.1–18.7]`` in the terminal
must not read ``0.125 (0.081, 0.187)`` in the HTML. A checker's number is worded by the unit its
metric declares (:mod:`harness.checkers.base`).
"""

from __future__ import annotations

import math

from harness.checkers.registry import metric
from harness.verdict import CellVerdict, Interval, StopNote


def _percent_number(rate: float) -> str:
    """A proportion as a percentage number: one decimal, but two significant digits below 0.1%.

    With 10,000 operations three duplicates are 0.03%; printing "0.0" there would read as "none".
    """
    if math.isnan(rate):
        return "n/a"
    percent = rate * 100
    if 0 < percent < 0.1:
        return f"{percent:.2g}"
    return f"{percent:.1f}"


def format_percent(rate: float) -> str:
    """``0.125`` → ``12.5%``."""
    number = _percent_number(rate)
    return number if number == "n/a" else f"{number}%"


def format_interval(interval: Interval) -> str:
    """A 95% interval of a proportion as percentage bounds: ``[8.1–18.7]``."""
    return f"[{_percent_number(interval.low)}–{_percent_number(interval.high)}]"


def format_number(name: str, value: float) -> str:
    """A checker's number by its metric's unit: ``12.5%``, ``3``, ``41.0`` (per 1,000); ``n/a`` if NaN."""
    if not math.isfinite(value):
        return "n/a"
    declared = metric(name)
    unit = declared.unit if declared is not None else "count"
    if unit == "rate":
        return format_percent(value)
    if unit == "per_1000":
        return f"{value:.1f}"
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


def format_cell_number(cell: CellVerdict, name: str, with_interval: bool = False) -> str:
    """A cell's number, with its 95% interval when asked: ``12.5% [8.1–18.7]``."""
    text = format_number(name, cell.number(name))
    return f"{text} {format_interval(cell.interval(name))}" if with_interval else text


def cell_label(variant: str, fault: str) -> str:
    """``naive × dropped_response``."""
    return f"{variant} × {fault}"


def stop_note(stop: StopNote | None) -> str:
    """``stopped after 212 ops: decided, duplicate rate 95% upper bound 1.4% < 2% (...)``; empty for a
    cell that ran its whole budget. Every report says an early stop in these words."""
    if stop is None:
        return ""
    head = f"stopped after {stop.operations} ops: {stop.reason}"
    return f"{head}, {'; '.join(stop.bounds)}" if stop.bounds else head
