"""Lost acknowledged operations: the client was told "done" and the target has no effect (data loss).

A service that deduplicates by answering from a cache it filled *before* committing, or that
acknowledges a queued job it then drops in a crash, shows up here rather than as a duplicate.
An operation on a resource its create step made (a PUT, DELETE, GET...) is not counted: keeping its
contract may leave no effect of its own, and its resource's state judges it
(:mod:`~harness.checkers.method_contract`).
"""

from __future__ import annotations

from harness.checkers.base import AnomalyDeclaration, Column, GateRule, Metric
from harness.checkers.evidence import CellEvidence, OpTrace
from harness.checkers.method_contract import on_resource
from harness.checkers.registry import register
from harness.checkers.story import attempts_story
from harness.ledger import Effect
from harness.verdict import CheckResult

KIND = "lost_acknowledged"


@register
class LostAcknowledged:
    name = "lost_acknowledged"
    order = 20
    metrics = (Metric("lost_acknowledged", "count", "lost acknowledged", baseline="rise", anomaly_kind=KIND),)
    gates = (GateRule("max_lost_acknowledged", "lost_acknowledged", "max"),)
    columns = (Column("Lost ack", "lost\nack", "lost_acknowledged"),)
    anomaly = AnomalyDeclaration(KIND, "Lost acknowledged", "were acknowledged but never took effect")

    def check(self, evidence: CellEvidence) -> CheckResult:
        flagged = [
            trace
            for trace in evidence.ops.values()
            if not trace.effects
            and trace.outcome == "acknowledged"
            and not on_resource(evidence, trace.op_id)
        ]
        return CheckResult(
            checker=self.name,
            validity="invalid" if flagged else "valid",
            numbers={"lost_acknowledged": len(flagged)},
            anomalies=evidence.anomalies(KIND, flagged, _explain),
        )


def _explain(trace: OpTrace, op_effects: list[Effect]) -> str:
    end = trace.end
    told = ""
    if end is not None and end.status is not None:
        told = f" ({end.status} {end.resource_id})" if end.resource_id else f" ({end.status})"
    return (
        f"{attempts_story(trace)}; the client was told it succeeded{told} but the target committed no effect"
    )
