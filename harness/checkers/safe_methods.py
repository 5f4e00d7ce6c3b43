"""Safe methods: a GET or HEAD, retried under faults, must change nothing.

GET and HEAD are safe by the spec: the client asks, the server changes nothing it would not change
unasked. A target that counts views in the resource, or records an effect per read, breaks that, and
retries multiply it. An operation is unsafe when its resource reads unlike its *twin* (made the same
way and never read by the load), or when the ledger holds any effect under the operation's op id.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.checkers.evidence import OpTrace
from harness.checkers.method_contract import ContractNames, Judgement, MethodContract, compare_with_twin
from harness.checkers.registry import register
from harness.checkers.story import effects_phrase, resource_list
from harness.ledger import Effect
from harness.resource_states import SAFE_METHODS, ResourceState


@register
class SafeMethods(MethodContract):
    name = "safe_methods"
    order = 43
    methods = SAFE_METHODS
    names = ContractNames("unsafe_reads", "safe_read_ops", "safe_read_unknown", "unsafe_read")
    metrics, gates, columns, anomaly = names.declarations(
        label="unsafe reads",
        header="Unsafe reads",
        terminal_header="unsafe\nreads",
        title="Unsafe reads",
        words="changed what they read (a GET or HEAD must change nothing)",
        what="a GET or HEAD of {variant} under {fault} changed what it read",
    )

    def judge(self, state: ResourceState, trace: OpTrace | None, effects: Sequence[Effect]) -> Judgement:
        compared = compare_with_twin(state)
        if not effects:
            return compared
        recorded = f"the target recorded {effects_phrase(len(effects))} under it ({resource_list(effects)})"
        return Judgement(True, f"{recorded}; {compared.found}")
