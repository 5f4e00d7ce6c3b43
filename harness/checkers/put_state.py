"""PUT state: a PUT retried under faults must leave its resource as one PUT applied once would.

PUT is idempotent by the HTTP spec: sending it again changes nothing more. A target that appends a
history row per call, or bumps a counter per attempt, reads differently from the resource's *twin*
(made the same way, the same PUT applied once, without faults) although every answer was a 200.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.checkers.evidence import OpTrace
from harness.checkers.method_contract import ContractNames, Judgement, MethodContract, compare_with_twin
from harness.checkers.registry import register
from harness.ledger import Effect
from harness.resource_states import ResourceState


@register
class PutState(MethodContract):
    name = "put_state"
    order = 40
    methods = frozenset({"PUT"})
    names = ContractNames("put_state_mismatches", "put_ops", "put_unknown", "put_state_mismatch")
    metrics, gates, columns, anomaly = names.declarations(
        label="PUT state mismatches",
        header="PUT ≠ once",
        terminal_header="PUT\n≠ once",
        title="PUT state mismatches",
        words="left their resource unlike the same PUT applied once",
        what="a PUT of {variant} under {fault} left its resource unlike the same PUT applied once",
    )

    def judge(self, state: ResourceState, trace: OpTrace | None, effects: Sequence[Effect]) -> Judgement:
        return compare_with_twin(state)
