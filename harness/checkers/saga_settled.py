"""Saga settled: after a bounded settle time every saga is all-done or all-compensated, never half-done.

A saga is half-done when the orchestrator left it pending or failed once the settle time was spent,
when nothing remembers it (ledger rows naming a saga the orchestrator has no record of: its effects
will never be undone), or when the ledgers contradict the end it claims: "done" with a step not in
effect, "compensated" with a step still in effect (a late charge that landed after its refund had
found nothing to refund). What each step holds is read from its participant's ledger, not believed
from the orchestrator.
"""

from __future__ import annotations

from harness.checkers.base import Metric
from harness.checkers.evidence import CellEvidence
from harness.checkers.registry import register
from harness.checkers.saga_story import (
    SAGAS_METRIC,
    SagaChecker,
    SagaFindings,
    SagaNames,
    SagaView,
    readable,
    saga_views,
    step_words,
)
from harness.saga_evidence import COMPENSATED, DONE, FAILED, PENDING, ParticipantRead, SagaEvidence


@register
class SagaSettled(SagaChecker):
    name = "saga_settled"
    order = 60
    names = SagaNames("sagas_half_done", "half_done_saga")
    metrics, gates, columns, anomaly = names.declarations(
        label="half-done sagas",
        header="Half-done sagas",
        terminal_header="half-done\nsagas",
        title="Half-done sagas",
        words="began a saga left neither all done nor all compensated",
        what="a saga of {variant} under {fault} was left neither all done nor all compensated",
        more=(
            Metric(SAGAS_METRIC, "count", "sagas"),
            Metric("sagas_pending", "count", "sagas still pending after the settle time"),
        ),
    )

    def judge(self, evidence: CellEvidence, saga: SagaEvidence) -> tuple[dict[str, float], SagaFindings]:
        views = saga_views(saga)
        reads, unreadable = readable(saga)
        findings = SagaFindings(unjudged=unreadable)
        for view in views:
            found = _half_done(view, saga, reads)
            if found is not None:
                findings.flag(view, found)
        numbers: dict[str, float] = {
            self.names.broken: len(findings.broken),
            SAGAS_METRIC: len(views),
            "sagas_pending": sum(view.status == PENDING for view in views),
        }
        return numbers, findings


def _half_done(view: SagaView, saga: SagaEvidence, reads: list[ParticipantRead]) -> str | None:
    """What leaves ``view`` half-done, or None when it reached an end the ledgers agree with (or
    when the ledgers that would tell could not be read: then the checker is unknown)."""
    if view.record is None:
        return "the orchestrator has no record of this saga, so nothing will ever finish or undo it"
    if view.status == PENDING:
        return f"still pending after the settle time ({saga.waited_s:.1f} s of at most {saga.settle_s:g} s)"
    if view.status == FAILED:
        return "the orchestrator gave it up as failed: a compensation never got through"
    in_effect = [read.role for read in reads if view.net(read.role) > 0]
    if view.status == DONE:
        missing = [read.role for read in reads if read.role not in in_effect]
        if missing:
            steps = ", ".join(map(step_words, missing))
            return f"the orchestrator says done, but {steps} did not take effect"
        return None
    if view.status == COMPENSATED:
        if in_effect:
            stands = ", ".join(map(step_words, in_effect))
            return f"the orchestrator says compensated, but {stands} still stands with nothing undoing it"
        return None
    return f"the orchestrator ended it {view.status!r}, which is neither done nor compensated"
