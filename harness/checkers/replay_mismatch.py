"""Replay mismatches: two successful answers to one operation that disagree on status or resource id.

An idempotent service must replay its first answer verbatim; a different status or resource id means
a retry was treated as a new request somewhere, even if only one effect survived.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from harness.checkers.answers import Answered, answer
from harness.checkers.base import AnomalyDeclaration, Column, GateRule, Metric
from harness.checkers.evidence import CellEvidence, OpTrace
from harness.checkers.registry import register
from harness.checkers.story import attempts_story, effects_phrase
from harness.ledger import Effect
from harness.verdict import CheckResult

KIND = "replay_mismatch"
A = TypeVar("A", bound=Answered)


@register
class ReplayMismatch:
    name = "replay_mismatch"
    order = 30
    metrics = (Metric("replay_mismatches", "count", "replay mismatches", baseline="rise", anomaly_kind=KIND),)
    gates = (GateRule("max_replay_mismatches", "replay_mismatches", "max"),)
    columns = (Column("Replay ≠", "replay\n≠", "replay_mismatches"),)
    anomaly = AnomalyDeclaration(
        KIND, "Replay mismatches", "had a retry answered differently from the first answer"
    )

    def check(self, evidence: CellEvidence) -> CheckResult:
        flagged = [
            trace
            for trace in evidence.ops.values()
            if len(trace.attempt_ends) > 1 and mismatch(trace.attempt_ends) is not None
        ]
        return CheckResult(
            checker=self.name,
            validity="invalid" if flagged else "valid",
            numbers={"replay_mismatches": len(flagged)},
            anomalies=evidence.anomalies(KIND, flagged, _explain),
        )


def _is_success(attempt: Answered) -> bool:
    return attempt.outcome == "ok" and attempt.status is not None and 200 <= attempt.status < 300


def mismatch(attempt_ends: Sequence[A]) -> tuple[A, A] | None:
    """The first successful answer and the first later one that disagrees with it, if any."""
    first: A | None = None
    for attempt in attempt_ends:
        if not _is_success(attempt):
            continue
        if first is None:
            first = attempt
        elif (attempt.status, attempt.resource_id) != (first.status, first.resource_id):
            return first, attempt
    return None


def _explain(trace: OpTrace, op_effects: list[Effect]) -> str:
    found = mismatch(trace.attempt_ends)
    story = attempts_story(trace)
    if found is None:  # pragma: no cover - only flagged ops reach here
        return story
    first, later = found
    return (
        f"{story}; attempt {first.attempt} answered {answer(first)} but attempt {later.attempt} "
        f"answered {answer(later)}; the target committed {effects_phrase(len(op_effects))}"
    )
