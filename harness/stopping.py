"""When a running cell may stop: every gate on it is decided at the scenario's confidence.

The orchestrator looks at a cell while its load runs (:mod:`harness.cell`) and hands the verdict of the
evidence so far to :func:`decide_cell`. Each gate is judged with an always-valid bound
(:mod:`harness.sequential`), so looking every half second does not raise the chance of a wrong verdict:

* a ``max_*`` rate gate set to 0 fails at the first event (a duplicate can never be undone) and passes
  once the operations the fault hit, and that have ended, show none for long enough to put the rate's
  upper bound below the gate's ``resolution`` (about ``3 / resolution`` of them at 95%); without a
  resolution it never passes early;
* any other ``max_*`` rate gate passes when the rate's upper bound falls below the threshold, and
  fails when its lower bound rises above it; a ``min_*`` rate gate the other way round;
* a count gate (``max_lost_acknowledged: 0``) fails at the first violation, and is otherwise decided
  when the cell's rate gates are: it never decides "pass" on its own, so a cell gated on counts alone
  runs its whole budget unless a count fails.

Nothing is decided while the cell is inconclusive (a guard unmet: too few operations hit, planned kills
not made yet): stopping there would make the cell unknown, and an unknown cell fails every gate. The
decision only says when to stop asking for more operations; the verdict is still the final check of the
whole evidence. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from harness.checkers.base import GateRule, Metric
from harness.checkers.registry import metric
from harness.gate import format_threshold, set_thresholds
from harness.scenario import GateSpec, gate_specs
from harness.sequential import log_mixture_martingale, mixture_bounds, zero_events_upper_bound
from harness.verdict import CellVerdict, StopNote

Outcome = Literal["pass", "fail", "open"]


@dataclass(frozen=True)
class GateDecision:
    """One gate's state at a look: ``open`` until the evidence decides it; ``evidence`` says how."""

    name: str
    outcome: Outcome
    evidence: str = ""


@dataclass(frozen=True)
class CellDecision:
    """Every gate on a cell at one look, and whether the cell may stop."""

    operations: int
    gates: tuple[GateDecision, ...]

    @property
    def decided(self) -> bool:
        return bool(self.gates) and all(gate.outcome != "open" for gate in self.gates)

    def note(self) -> StopNote:
        """What the reports say about a cell that stopped on this decision."""
        shown = [gate.evidence for gate in self.gates if gate.evidence]
        return StopNote(operations=self.operations, reason="decided", bounds=tuple(shown))


@dataclass(frozen=True)
class _Gate:
    rule: GateRule
    limit: float
    resolution: float | None


def cell_gates(
    gates: Mapping[str, GateSpec | tuple[GateSpec, ...]], variant: str, fault: str
) -> tuple[_Gate, ...]:
    """The gates a scenario sets on one cell: its variant's, limited to its fault where a spec says so."""
    return tuple(
        _Gate(rule, limit, spec.resolution)
        for spec in gate_specs(gates.get(variant, ()))
        if not spec.faults or fault in spec.faults
        for rule, limit in set_thresholds(spec)
    )


def decide_cell(cell: CellVerdict, gates: tuple[_Gate, ...], confidence: float) -> CellDecision:
    """Each gate of ``gates`` judged on the evidence so far (``cell``), at ``confidence``."""
    ended = cell.acknowledged + cell.rejected + cell.unknown
    if cell.inconclusive:
        return CellDecision(ended, tuple(GateDecision(gate.rule.name, "open") for gate in gates))
    alpha = 1 - confidence
    rates = [gate for gate in gates if _rate_metric(gate.rule) is not None]
    judged = {id(gate): _decide_rate(cell, gate, alpha, confidence) for gate in rates}
    rates_decided = bool(rates) and all(decision.outcome != "open" for decision in judged.values())
    decisions = [
        judged[id(gate)] if id(gate) in judged else _decide_count(cell, gate, rates_decided) for gate in gates
    ]
    return CellDecision(ended, tuple(decisions))


def _rate_metric(rule: GateRule) -> Metric | None:
    declared = metric(rule.metric)
    return declared if declared is not None and declared.is_rate and declared.numerator else None


def _decide_count(cell: CellVerdict, gate: _Gate, rates_decided: bool) -> GateDecision:
    name = gate.rule.name
    actual = cell.number(gate.rule.metric)
    broken = actual > gate.limit if gate.rule.direction == "max" else False
    if broken:
        label = _label(gate.rule.metric)
        return GateDecision(name, "fail", f"{label} {format_threshold(name, actual)} > {_limit(gate)}")
    return GateDecision(name, "pass" if rates_decided else "open")


def _decide_rate(cell: CellVerdict, gate: _Gate, alpha: float, confidence: float) -> GateDecision:
    declared = _rate_metric(gate.rule)
    assert declared is not None and declared.numerator is not None
    name = gate.rule.name
    label = declared.label
    events = int(cell.number(declared.numerator))
    ended = cell.acknowledged + cell.rejected + cell.unknown
    trials = max(ended, events)
    level = f"{confidence:.0%}"
    if gate.rule.direction == "max" and gate.limit == 0:
        if events:
            return GateDecision(name, "fail", f"{_label(declared.numerator)} {events} > 0")
        if gate.resolution is None:
            return GateDecision(name, "open")
        in_flight = cell.operations - ended
        clean = max(0, int(cell.number("exposed_ops")) - in_flight)  # hit by the fault, and ended
        bound = zero_events_upper_bound(clean, alpha)
        if bound >= gate.resolution:
            return GateDecision(name, "open")
        upper = f"upper bound {format_threshold(name, bound)} < {format_threshold(name, gate.resolution)}"
        return GateDecision(name, "pass", f"{label} {level} {upper} over {clean} exposed operations")
    if trials == 0 or log_mixture_martingale(events, trials, gate.limit) < -math.log(alpha):
        return GateDecision(name, "open")  # the threshold is still inside the bounds
    bounds = mixture_bounds(events, trials, alpha)
    above = events / trials > gate.limit
    passed = above if gate.rule.direction == "min" else not above
    side, bound, sign = ("lower", bounds.low, ">") if above else ("upper", bounds.high, "<")
    shown = f"{label} {level} {side} bound {format_threshold(name, bound)} {sign} {_limit(gate)}"
    return GateDecision(name, "pass" if passed else "fail", shown)


def _label(metric_name: str) -> str:
    declared = metric(metric_name)
    return declared.label if declared is not None else metric_name


def _limit(gate: _Gate) -> str:
    return format_threshold(gate.rule.name, gate.limit)
