"""Money conserved: per customer, charges − refunds = price × completed sagas, and the balance agrees.

A refund paid twice, a charge taken twice, a late charge that landed after its saga was compensated,
a charge of a saga the orchestrator forgot: each leaves a customer's books off by its amount. The
saga that did it is named with its story; the customer's own books too (:mod:`~harness.checkers.
saga_conservation` says how both are judged).
"""

from __future__ import annotations

from harness.checkers.base import Metric
from harness.checkers.evidence import CellEvidence
from harness.checkers.registry import register
from harness.checkers.saga_conservation import judge_conservation
from harness.checkers.saga_story import SagaChecker, SagaFindings, SagaNames
from harness.saga_evidence import SagaEvidence


@register
class MoneyConserved(SagaChecker):
    name = "money_conserved"
    order = 62
    names = SagaNames("money_unbalanced_sagas", "money_not_conserved")
    metrics, gates, columns, anomaly = names.declarations(
        label="sagas whose charges less refunds differ from what their end calls for",
        header="Money off",
        terminal_header="money\noff",
        title="Money not conserved",
        words="began a saga whose charges less refunds differ from what its end calls for",
        what="a saga of {variant} under {fault} charged a customer other than its completed price",
        more=(Metric("customers_unbalanced", "count", "customers whose books do not balance"),),
    )

    def judge(self, evidence: CellEvidence, saga: SagaEvidence) -> tuple[dict[str, float], SagaFindings]:
        found = judge_conservation(saga, "money", self.names.kind)
        numbers: dict[str, float] = {
            self.names.broken: len(found.findings.broken),
            "customers_unbalanced": found.items_unbalanced,
        }
        return numbers, found.findings
