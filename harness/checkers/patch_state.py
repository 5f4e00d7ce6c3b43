"""PATCH state: a PATCH retried under faults must be applied once, as its resource's twin shows.

PATCH is not idempotent by the spec: an increment sent twice increments twice. With an
Idempotency-Key the target must apply it once and replay its answer; without one a retried increment
is applied again. Either way the resource is compared with its *twin* (made the same way, the same
PATCH applied once, without faults); an increment applied twice also shows in the ledger, as a
duplicate effect of the operation (:mod:`~harness.checkers.duplicate_effects`).
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.checkers.evidence import OpTrace
from harness.checkers.method_contract import ContractNames, Judgement, MethodContract, compare_with_twin
from harness.checkers.registry import register
from harness.ledger import Effect
from harness.resource_states import ResourceState


@register
class PatchState(MethodContract):
    name = "patch_state"
    order = 41
    methods = frozenset({"PATCH"})
    names = ContractNames("patch_state_mismatches", "patch_ops", "patch_unknown", "patch_state_mismatch")
    metrics, gates, columns, anomaly = names.declarations(
        label="PATCH state mismatches",
        header="PATCH ≠ once",
        terminal_header="PATCH\n≠ once",
        title="PATCH state mismatches",
        words="left their resource unlike the same PATCH applied once",
        what="a PATCH of {variant} under {fault} was applied more than once",
    )

    def judge(self, state: ResourceState, trace: OpTrace | None, effects: Sequence[Effect]) -> Judgement:
        return compare_with_twin(state)
