"""The acknowledged share: a target that acknowledges nothing cannot show a duplicate.

A service answering 500 to everything commits nothing, so it duplicates nothing: without this guard
its cell would read "0% duplicates" and pass. A cell whose operations were acknowledged less often
than ``min_acknowledged_rate`` (0.5 unless the scenario lowers it for a variant) is ``unknown``, and
the reason says how the attempts were answered.
"""

from __future__ import annotations

from harness.checkers.base import Metric
from harness.checkers.evidence import CellEvidence
from harness.checkers.registry import register
from harness.verdict import CheckResult


@register
class AcknowledgedShare:
    name = "acknowledged_share"
    order = 1
    metrics = (Metric("acknowledged_rate", "rate", "acknowledged share"),)
    gates = ()
    columns = ()
    anomaly = None

    def check(self, evidence: CellEvidence) -> CheckResult:
        operations = evidence.operations
        acknowledged = evidence.outcome_counts()["acknowledged"]
        rate = acknowledged / operations if operations else 0.0
        wanted = evidence.expect.min_acknowledged_rate
        reason = None
        if rate < wanted:
            answers = ", ".join(
                f"{name} ×{count}" for name, count in list(evidence.answer_counts().items())[:4]
            )
            reason = (
                f"acknowledged: {acknowledged} of {operations} operations acknowledged ({rate:.0%}), below "
                f"min_acknowledged_rate {wanted:.0%}; attempts were answered {answers or 'never'}"
            )
        return CheckResult(
            checker=self.name,
            validity="unknown" if reason else "valid",
            numbers={"acknowledged_rate": rate},
            reason=reason,
        )
