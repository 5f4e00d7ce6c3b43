"""The gate: a scenario's thresholds checked against the verdict, and the run's exit status.

A gate on a variant is checked on *every* fault cell of that variant, one :class:`GateResult` per
threshold per cell, so a report can say exactly which fault broke which promise. The thresholds a scenario
may set are declared by the checker modules (:class:`~harness.checkers.GateRule`); two directions exist:
``max_*`` thresholds are the regression signal (the idempotent variant must not duplicate), while
``min_duplicate_rate`` is the sensitivity check (the naive variant *must* duplicate, otherwise the
faults were too gentle to prove anything and a clean idempotent result would mean nothing).

A cell whose validity is ``unknown`` (a checker raised, or a guard was not met: the fault hit too few
operations, planned kills were not made, too little was acknowledged) fails every gate on it: a number
we could not compute, or that the fault never tested, must never let a regression through.

Everything here is a pure function of its arguments.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from harness.checkers.base import GateRule
from harness.checkers.registry import gate_rule, metric
from harness.errors import EXIT_GATE_FAILED, EXIT_OK
from harness.result import GateResult, RunResult
from harness.scenario import GateSpec, gate_specs
from harness.verdict import CellVerdict, RunVerdict
from harness.wording import format_number

BASELINE_GATE = "baseline_duplicate_rate"
"""The ``name`` of a :mod:`harness.baseline` gate (threshold: the baseline interval's high bound)."""

NO_CELLS = "(no cells)"
"""The ``fault`` of the one failing result given to a gated variant that has no cells at all."""


def gate_operator(name: str) -> str:
    """The comparison a gate makes, as a symbol: ``≤`` for ``max_*`` gates, ``≥`` for ``min_*``."""
    rule = gate_rule(name)
    direction = rule.direction if rule is not None else ("min" if name.startswith("min_") else "max")
    return "≥" if direction == "min" else "≤"


def format_threshold(name: str, value: float) -> str:
    """A threshold or actual value as a reader expects it: rates as percentages, counts as integers.

    Thresholds are what a person wrote (``0.01``), so a rate reads ``1%``, not ``1.0%``.
    """
    if not math.isfinite(value):  # NaN: the value could not be computed
        return "n/a"
    rule = gate_rule(name)
    declared = metric(rule.metric) if rule is not None else None
    if name == BASELINE_GATE or (declared is not None and declared.is_rate):
        return f"{value * 100:.4g}%"
    return format_number(rule.metric if rule is not None else name, value)


def _label(name: str, limit: float) -> str:
    return f"{name} {gate_operator(name)} {format_threshold(name, limit)}"


def gate_label(gate: GateResult) -> str:
    """``max_duplicate_rate ≤ 1%``: the gate's name, comparison and threshold in one phrase."""
    return _label(gate.name, gate.threshold)


def _message(rule: GateRule, cell: CellVerdict, limit: float, actual: float, passed: bool) -> str:
    """A sentence that stands alone (in a CI log line, a JUnit failure): gate, outcome, actual value."""
    verdict = "held" if passed else "failed"
    text = f"{_label(rule.name, limit)} {verdict} (actual {format_threshold(rule.name, actual)})"
    if not passed and rule.failure_hint:
        text += ": " + rule.failure_hint.format(variant=cell.variant, fault=cell.fault)
    return text


def _check(rule: GateRule, limit: float, cell: CellVerdict) -> GateResult:
    if cell.inconclusive:
        reason = cell.error or "no reason given"
        return GateResult(
            variant=cell.variant,
            fault=cell.fault,
            name=rule.name,
            threshold=limit,
            actual=float("nan"),
            passed=False,
            message=(
                f"{_label(rule.name, limit)} cannot be checked: the cell is inconclusive ({reason})"
            ),
        )
    actual = cell.number(rule.metric)
    passed = actual <= limit if rule.direction == "max" else actual >= limit
    return GateResult(
        variant=cell.variant,
        fault=cell.fault,
        name=rule.name,
        threshold=limit,
        actual=actual,
        passed=passed,
        message=_message(rule, cell, limit, actual, passed),
    )


def set_thresholds(spec: GateSpec) -> list[tuple[GateRule, float]]:
    """The thresholds a spec sets, in the registry's order (unknown names were refused at load)."""
    chosen: list[tuple[GateRule, float]] = []
    for name, limit in spec.thresholds.items():
        rule = gate_rule(name)
        if rule is None:
            raise ValueError(f"gate {name!r} is not declared by any checker")
        chosen.append((rule, float(limit)))
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
    thresholds = set_thresholds(spec)
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
