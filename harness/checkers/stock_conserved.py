"""Stock conserved: per item, initial − reserved + released = current, as completed sagas call for, and
never below the floor (never negative).

A release paid twice returns stock that was never taken; a reservation held by a saga that ended
without completing keeps stock nobody bought; a reserve that was not deduplicated takes it twice. The
saga that did it is named with its story, and the item's own books too (:mod:`~harness.checkers.
saga_conservation` says how both are judged). Stock here is every participant whose level a forward
step takes from: a sku's stock, an address's delivery slots.
"""

from __future__ import annotations

from harness.checkers.base import GateRule, Metric
from harness.checkers.evidence import CellEvidence
from harness.checkers.registry import register
from harness.checkers.saga_conservation import judge_conservation
from harness.checkers.saga_story import SagaChecker, SagaFindings, SagaNames
from harness.saga_evidence import SagaEvidence


@register
class StockConserved(SagaChecker):
    name = "stock_conserved"
    order = 63
    names = SagaNames("stock_unbalanced_sagas", "stock_not_conserved")
    metrics, gates, columns, anomaly = names.declarations(
        label="sagas whose reservations less releases differ from what their end calls for",
        header="Stock off",
        terminal_header="stock\noff",
        title="Stock not conserved",
        words="began a saga whose reservations less releases differ from what its end calls for",
        what="a saga of {variant} under {fault} left stock other than its completed quantity",
        more=(
            Metric("stock_items_unbalanced", "count", "items whose stock does not balance"),
            Metric("stock_below_floor", "count", "items whose stock went below its floor"),
        ),
    )
    gates = (
        *gates,
        GateRule(
            "max_stock_below_floor",
            "stock_below_floor",
            "max",
            failure_hint="stock of {variant} under {fault} went below its floor (negative)",
        ),
    )

    def judge(self, evidence: CellEvidence, saga: SagaEvidence) -> tuple[dict[str, float], SagaFindings]:
        found = judge_conservation(saga, "stock", self.names.kind)
        numbers: dict[str, float] = {
            self.names.broken: len(found.findings.broken),
            "stock_items_unbalanced": found.items_unbalanced,
            "stock_below_floor": found.items_below_floor,
        }
        return numbers, found.findings
