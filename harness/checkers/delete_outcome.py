"""DELETE outcome: a DELETE retried under faults leaves its resource gone, and is never answered 5xx.

DELETE is idempotent by the spec: the resource is gone however often it is sent. A retry of a DELETE
whose first answer was lost finds the resource already gone; the right answer is 204 (or 200), or
404, never a 500 that tells the client something broke. So an operation is broken when any attempt
got a 5xx answer, or when its resource still reads as anything but 404 or 410 after the load.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.checkers.answers import answer
from harness.checkers.evidence import OpTrace
from harness.checkers.method_contract import (
    ContractNames,
    Judgement,
    MethodContract,
    read_words,
    twin_words,
)
from harness.checkers.registry import register
from harness.ledger import Effect
from harness.resource_states import ResourceState

GONE = frozenset({404, 410})
"""What a deleted resource reads as."""


@register
class DeleteOutcome(MethodContract):
    name = "delete_outcome"
    order = 42
    methods = frozenset({"DELETE"})
    names = ContractNames("delete_errors", "delete_ops", "delete_unknown", "delete_error")
    metrics, gates, columns, anomaly = names.declarations(
        label="DELETE errors",
        header="DELETE errors",
        terminal_header="DELETE\nerrors",
        title="DELETE errors",
        words="were answered 5xx or left their resource in place",
        what="a DELETE of {variant} under {fault} was answered 5xx or left its resource",
    )

    def judge(self, state: ResourceState, trace: OpTrace | None, effects: Sequence[Effect]) -> Judgement:
        attempts = trace.attempt_ends if trace is not None else ()
        errors = [attempt for attempt in attempts if attempt.status is not None and attempt.status >= 500]
        after = state.after.status
        twin = f"; {twin_words(state)} reads {read_words(state.twin)}" if state.twin is not None else ""
        found = []
        if errors:
            answered = ", ".join(f"attempt {attempt.attempt} ({answer(attempt)})" for attempt in errors)
            found.append(f"answered 5xx: {answered}")
        if after is None:
            found.append(f"the resource's read after it got {read_words(state.after)}")
        elif after not in GONE:
            found.append(f"the resource still reads {read_words(state.after)} after it (not 404 or 410)")
        else:
            found.append(f"the resource reads {after} after it")
        broken = bool(errors) or (after is not None and after not in GONE)
        return Judgement(True if broken else None if after is None else False, "; ".join(found) + twin)
