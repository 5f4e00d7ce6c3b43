"""Duplicate effects: operations the target committed two or more times — the number this tool exists for.

The rate is over all operations of the cell, with a 95% Wilson interval (:mod:`harness.stats`); extra
effects count every effect beyond the first, per 1,000 operations too, so "3 ops charged twice" and
"1 op charged 40 times" read differently.
"""

from __future__ import annotations

from harness.checkers.base import AnomalyDeclaration, Column, GateRule, Metric
from harness.checkers.evidence import CellEvidence, OpTrace
from harness.checkers.registry import register
from harness.checkers.story import attempts_story, effects_phrase, resource_list
from harness.ledger import Effect
from harness.stats import wilson_interval
from harness.verdict import CheckResult

KIND = "duplicate_effect"


@register
class DuplicateEffects:
    name = "duplicate_effects"
    order = 10
    metrics = (
        Metric("ops_with_duplicates", "count", "duplicated operations", anomaly_kind=KIND),
        Metric(
            "duplicate_rate",
            "rate",
            "duplicate rate",
            numerator="ops_with_duplicates",
            interval=True,
            baseline="interval",
            anomaly_kind=KIND,
        ),
        Metric("extra_effects", "count", "extra effects", anomaly_kind=KIND),
        Metric("extra_effects_per_1000", "per_1000", "extra effects per 1,000 operations"),
    )
    gates = (
        GateRule("max_duplicate_rate", "duplicate_rate", "max"),
        GateRule(
            "min_duplicate_rate",
            "duplicate_rate",
            "min",
            failure_hint=(
                "the harness was not sensitive enough to show duplicates for {variant} under {fault}"
            ),
        ),
    )
    columns = (
        Column("Duplicates [95%]", "duplicates\n[95% CI]", "duplicate_rate", True, "ops_with_duplicates"),
        Column("Extra /1000", "extra\n/1000", "extra_effects_per_1000", bad_when="ops_with_duplicates"),
    )
    anomaly = AnomalyDeclaration(KIND, "Duplicate effects", "took effect more than once")

    def check(self, evidence: CellEvidence) -> CheckResult:
        flagged = [trace for trace in evidence.ops.values() if trace.effects and len(trace.effects) >= 2]
        extra = sum(len(trace.effects or ()) - 1 for trace in flagged)
        operations = evidence.operations
        return CheckResult(
            checker=self.name,
            validity="invalid" if flagged else "valid",
            numbers={
                "ops_with_duplicates": len(flagged),
                "duplicate_rate": len(flagged) / operations if operations else 0.0,
                "extra_effects": extra,
                "extra_effects_per_1000": extra * 1000 / operations if operations else 0.0,
            },
            intervals={"duplicate_rate": wilson_interval(len(flagged), operations)},
            anomalies=evidence.anomalies(KIND, flagged, _explain),
        )


def _explain(trace: OpTrace, op_effects: list[Effect]) -> str:
    return (
        f"{attempts_story(trace)}; the target committed {effects_phrase(len(op_effects))} "
        f"({resource_list(op_effects)})"
    )
