"""What stands behind a failed gate: its cell's numbers and the operations that made them.

A CI page (a JUnit failure, the job summary) is often all a reader opens; the gate's one line says
*that* a promise broke, this says by how much and *which* operations broke it, so a reader can grep an
op id in the evidence or the HTML report without downloading anything first.
"""

from __future__ import annotations

from harness.baseline import HEADLINE
from harness.checkers.base import Metric
from harness.checkers.registry import anomaly_declaration, checkers, gate_rule, metric
from harness.gate import BASELINE_GATE
from harness.report.formatting import describe_attempts
from harness.result import GateResult, RunResult
from harness.verdict import Anomaly, CellVerdict
from harness.wording import format_cell_number


def gate_cell(result: RunResult, gate: GateResult) -> CellVerdict | None:
    """The cell a gate was checked on; None for a gated variant without cells."""
    try:
        return result.verdict.cell(gate.variant, gate.fault)
    except KeyError:
        return None


def _gate_metric(gate: GateResult) -> tuple[str, str] | None:
    """The metric a gate reads and its direction (``max`` / ``min``); None for an undeclared gate."""
    if gate.name == BASELINE_GATE:  # a regression against a baseline: the headline number rose
        return HEADLINE, "max"
    rule = gate_rule(gate.name)
    return None if rule is None else (rule.metric, rule.direction)


def _sibling_metrics(name: str) -> tuple[Metric, ...]:
    """Every metric of the checker that declares ``name``: a rate reads best beside its counts."""
    for checker in checkers():
        if any(metric.name == name for metric in checker.metrics):
            return tuple(checker.metrics)
    return ()


def gate_numbers(cell: CellVerdict, gate: GateResult) -> str:
    """``40 operations, 45 attempts, 5 retries; duplicated operations 1, duplicate rate 2.5% [0.4–12.9]``."""
    counts = f"{cell.operations} operations, {cell.attempts} attempts, {cell.retries} retries"
    read = _gate_metric(gate)
    metrics = _sibling_metrics(read[0]) if read is not None else ()
    numbers = [
        f"{metric.label} {format_cell_number(cell, metric.name, with_interval=metric.interval)}"
        for metric in metrics
    ]
    return "; ".join([counts, ", ".join(numbers)]) if numbers else counts


def gate_anomalies(cell: CellVerdict, gate: GateResult) -> tuple[Anomaly, ...]:
    """The operations behind a failed ``max`` gate's number (the duplicated ones, the lost ones ...).

    Empty for a gate that held, a ``min`` gate (what it missed has no operations to show) and a number
    no anomaly stands behind.
    """
    read = _gate_metric(gate)
    if gate.passed or read is None or read[1] != "max":
        return ()
    declared = metric(read[0])
    kind = declared.anomaly_kind if declared is not None else None
    return tuple(anomaly for anomaly in cell.anomalies if anomaly.kind == kind)


def operation_line(anomaly: Anomaly) -> str:
    """``op-7: 2 effects; #1 info timeout (1.00 s) → #2 ok 201 (42 ms)``: an op id and its attempts."""
    effects = f"{anomaly.effect_count} effect{'' if anomaly.effect_count == 1 else 's'}"
    return f"{anomaly.op_id}: {effects}; {describe_attempts(anomaly.attempts)}"


def anomalies_heading(anomalies: tuple[Anomaly, ...], shown: int) -> str:
    """``operations that took effect more than once (2 of 5 shown):``."""
    words = anomaly_declaration(anomalies[0].kind).words if anomalies else "were flagged"
    return f"operations that {words} ({min(shown, len(anomalies))} of {len(anomalies)} shown):"
