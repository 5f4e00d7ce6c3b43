"""The gate: a scenario's thresholds checked against the verdict, and the run's exit status.

A gate on a variant is checked on *every* fault cell of that variant, one :class:`GateResult` per
threshold per cell, so a report can say exactly which fault broke which promise. Two directions exist:
``max_*`` thresholds are the regression signal (the idempotent variant must not duplicate), while
``min_duplicate_rate`` is the sensitivity check (the naive variant *must* duplicate, otherwise the
faults were too gentle to prove anything and a clean idempotent result would mean nothing).

A cell whose validity is ``unknown`` (the checker raised) fails every gate on it: a number we could
not compute must never let a regression through.

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from harness.errors import EXIT_GATE_FAILED, EXIT_OK
from harness.result import GateResult, RunResult
from harness.scenario import GateSpec, gate_specs
from harness.verdict import CellVerdict, RunVerdict

Direction = Literal["max", "min"]

BASELINE_GATE = "baseline_duplicate_rate"
"""The ``name`` of a :mod:`harness.baseline` gate (threshold: the baseline interval's high bound)."""

NO_CELLS = "(no cells)"
"""The ``fault`` of the one failing result given to a gated variant that has no cells at all."""


@dataclass(frozen=True)
class _Threshold:
    """How one field of :class:`GateSpec` is read from a cell and compared."""

    name: str
    direction: Direction
    metric: Callable[[CellVerdict], float]
    is_rate: bool


_THRESHOLDS: tuple[_Threshold, ...] = (
    _Threshold("max_duplicate_rate", "max", lambda cell: cell.duplicate_rate, True),
    _Threshold("min_duplicate_rate", "min", lambda cell: cell.duplicate_rate, True),
    _Threshold("max_lost_acknowledged", "max", lambda cell: float(cell.lost_acknowledged), False),
    _Threshold("max_replay_mismatches", "max", lambda cell: float(cell.replay_mismatches), False),
)
_BY_NAME = {threshold.name: threshold for threshold in _THRESHOLDS}
_RATE_NAMES = frozenset({threshold.name for threshold in _THRESHOLDS if threshold.is_rate} | {BASELINE_GATE})


def gate_operator(name: str) -> str:
    """The comparison a gate makes, as a symbol: ``≤`` for ``max_*`` gates, ``≥`` for ``min_*``."""
    return "≥" if name.startswith("min_") else "≤"


def format_threshold(name: str, value: float) -> str:
    """A threshold or actual value as a reader expects it: rates as percentages, counts as integers."""
    if not math.isfinite(value):  # NaN: the value could not be computed
        return "n/a"
    if name in _RATE_NAMES:
        return f"{value * 100:.4g}%"
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


def _label(name: str, limit: float) -> str:
    return f"{name} {gate_operator(name)} {format_threshold(name, limit)}"


def gate_label(gate: GateResult) -> str:
    """``max_duplicate_rate ≤ 1%``: the gate's name, comparison and threshold in one phrase."""
    return _label(gate.name, gate.threshold)


def _message(threshold: _Threshold, cell: CellVerdict, limit: float, actual: float, passed: bool) -> str:
    """A sentence that stands alone (in a CI log line, a JUnit failure): gate, outcome, actual value."""
    verdict = "held" if passed else "failed"
    text = f"{_label(threshold.name, limit)} {verdict} (actual {format_threshold(threshold.name, actual)})"
    if not passed and threshold.direction == "min":
        text += (
            f": the harness was not sensitive enough to show duplicates for {cell.variant} under {cell.fault}"
        )
    return text


def _check(threshold: _Threshold, limit: float, cell: CellVerdict) -> GateResult:
    if cell.validity == "unknown":
        reason = cell.error or "no reason given"
        return GateResult(
            variant=cell.variant,
            fault=cell.fault,
            name=threshold.name,
            threshold=limit,
            actual=float("nan"),
            passed=False,
            message=(
                f"{_label(threshold.name, limit)} cannot be checked: the checker could not judge "
                f"this cell ({reason})"
            ),
        )
    actual = threshold.metric(cell)
    passed = actual <= limit if threshold.direction == "max" else actual >= limit
    return GateResult(
        variant=cell.variant,
        fault=cell.fault,
        name=threshold.name,
        threshold=limit,
        actual=actual,
        passed=passed,
        message=_message(threshold, cell, limit, actual, passed),
    )


def _set_thresholds(spec: GateSpec) -> list[tuple[_Threshold, float]]:
    chosen: list[tuple[_Threshold, float]] = []
    for threshold in _THRESHOLDS:
        limit = getattr(spec, threshold.name)
        if limit is not None:
            chosen.append((threshold, float(limit)))
    return chosen


def evaluate_gates(
    gates: Mapping[str, GateSpec | tuple[GateSpec, ...]], verdict: RunVerdict
) -> tuple[GateResult, ...]:
    """Every set threshold of every gated variant, checked on each fault cell of that variant.

    Order: variants as the mapping gives them, then their gates in order, cells in verdict order,
    thresholds in :class:`GateSpec` field order. A gated variant without any cell fails once per
    threshold, so a typo or a skipped variant cannot pass silently; a gate limited to some faults is
    checked on those of them that ran (``--fault`` may have left the others out).
    """
    results: list[GateResult] = []
    for variant, specs in gates.items():
        for spec in gate_specs(specs):
            results.extend(_evaluate_one(variant, spec, verdict))
    return tuple(results)


def _evaluate_one(variant: str, spec: GateSpec, verdict: RunVerdict) -> list[GateResult]:
    thresholds = _set_thresholds(spec)
    cells = verdict.for_variant(variant)
    if not cells:
        return [
            GateResult(
                variant=variant,
                fault=NO_CELLS,
                name=threshold.name,
                threshold=limit,
                actual=float("nan"),
                passed=False,
                message=(
                    f"{_label(threshold.name, limit)} cannot hold: no cells were run for variant {variant}"
                ),
            )
            for threshold, limit in thresholds
        ]
    return [
        _check(threshold, limit, cell)
        for cell in cells
        if not spec.faults or cell.fault in spec.faults
        for threshold, limit in thresholds
    ]


def exit_status(result: RunResult) -> int:
    """``EXIT_OK`` when every gate held (or there were none), ``EXIT_GATE_FAILED`` otherwise."""
    return EXIT_OK if result.passed else EXIT_GATE_FAILED
