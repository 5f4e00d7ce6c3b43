"""Reservations released: no saga that ended without completing still holds stock.

A saga that ended compensated or failed, or that the orchestrator forgot (a crash wiped its log), will
never be completed, so nothing it reserved or booked may still be held: its release or cancel must
have undone it. A held reservation is stock nobody bought and nobody will ever free. A saga still
pending cannot be judged yet (``saga_settled`` flags it once the settle time is spent).
"""

from __future__ import annotations

from harness.checkers.evidence import CellEvidence
from harness.checkers.registry import register
from harness.checkers.saga_story import SagaChecker, SagaFindings, SagaNames, readable, saga_views, step_words
from harness.saga_evidence import PENDING, SagaEvidence


@register
class ReservationsReleased(SagaChecker):
    name = "reservations_released"
    order = 64
    names = SagaNames("reservations_held", "reservation_held")
    metrics, gates, columns, anomaly = names.declarations(
        label="reservations held by sagas that ended without completing",
        header="Held reservations",
        terminal_header="held\nreserv.",
        title="Reservations held by ended sagas",
        words="began a saga that ended without completing and still holds a reservation",
        what="a saga of {variant} under {fault} ended without completing and still holds stock",
    )

    def judge(self, evidence: CellEvidence, saga: SagaEvidence) -> tuple[dict[str, float], SagaFindings]:
        reads, unreadable = readable(saga, "stock")
        findings = SagaFindings(unjudged=unreadable)
        held = 0
        for view in saga_views(saga):
            holds = [(read.role, view.net(read.role)) for read in reads if view.net(read.role) > 0]
            if view.status == PENDING and holds:
                findings.cannot_judge(f"saga {view.id} is still pending and holds stock")
            elif view.ended_without_completing() and holds:
                held += len(holds)
                what = ", ".join(f"{step_words(role)} ({net})" for role, net in holds)
                findings.flag(view, f"it ended {view.status} and still holds {what}, never released")
        return {self.names.broken: held}, findings
