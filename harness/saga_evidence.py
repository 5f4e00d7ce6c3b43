"""What a cell's saga probe read after its load: the orchestrator's sagas and every participant's ledger.

A saga spreads one business operation over several services, and whether it kept its promises (every
saga ends all-done or all-compensated, no step takes effect twice, money and stock are conserved)
shows only when the orchestrator's log and each participant's ledger are read side by side, directly
(never through the fault proxy), once the sagas have settled. The probe (:mod:`harness.saga_reads`)
writes what it read as the cell's ``saga.json``; the saga checkers (``saga_settled``,
``saga_step_once``, ``money_conserved``, ``stock_conserved``, ``reservations_released``) read it back.

Participants are described by their :class:`ParticipantRole`: which saga step each serves, its forward
and compensating request kinds, and whether its level is ``money`` (a forward step adds to it: a
customer's balance charged) or ``stock`` (a forward step takes from it: a sku's stock reserved, an
address's slots booked, never below the participant's floor).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec

from harness.errors import HistoryError

SAGA_FILE = "saga.json"

PENDING, DONE, COMPENSATED, FAILED = "pending", "done", "compensated", "failed"
"""The orchestrator's saga statuses: only ``done`` and ``compensated`` are an end a saga may have."""

LevelKind = Literal["money", "stock"]


@dataclass(frozen=True)
class ParticipantRole:
    """One participant of the saga: the step it serves and the request kinds of that step."""

    name: str
    step: int
    forward: str
    compensation: str
    level: LevelKind

    @property
    def forward_sign(self) -> int:
        """How a forward effect moves an item's level: money is added (charged), stock is taken."""
        return +1 if self.level == "money" else -1


CHECKOUT_PARTICIPANTS: tuple[ParticipantRole, ...] = (
    ParticipantRole("payments", 1, "charge", "refund", "money"),
    ParticipantRole("inventory", 2, "reserve", "release", "stock"),
    ParticipantRole("shipping", 3, "book", "cancel", "stock"),
)
"""The reference checkout saga (``targets/checkout``): charge, reserve, book; undone in reverse."""


@dataclass(frozen=True)
class StepAsk:
    """What one step of a saga asks its participant for: ``amount`` of ``item``."""

    step: int
    item: str
    amount: int


@dataclass(frozen=True)
class SagaRecord:
    """One saga as the orchestrator's log tells it."""

    id: str
    reference: str
    """The op id of the client's operation that began it (a retried checkout may begin several)."""
    status: str
    steps_done: tuple[int, ...]
    compensations_done: tuple[int, ...]
    created_at: float
    asks: tuple[StepAsk, ...] = ()

    def ask(self, step: int) -> StepAsk | None:
        return next((ask for ask in self.asks if ask.step == step), None)


@dataclass(frozen=True)
class LedgerRow:
    """One effect a participant recorded: forward or compensation, with the key it was sent with."""

    id: str
    saga_id: str
    step: int
    kind: str
    idempotency_key: str | None
    item: str
    amount: int
    reference: str
    created_at: float


@dataclass(frozen=True)
class ParticipantRead:
    """One participant's ledger (oldest first) and levels, or why they could not be read."""

    role: ParticipantRole
    rows: tuple[LedgerRow, ...] = ()
    levels: Mapping[str, int] = field(default_factory=dict)
    initial_level: int = 0
    floor: int | None = None
    error: str | None = None

    def level(self, item: str) -> int:
        return self.levels.get(item, self.initial_level)


@dataclass(frozen=True)
class SagaEvidence:
    """Everything one saga probe read. ``settled``: no saga was pending and no ledger had moved for a
    while when it was read; else the settle time (``settle_s``) ran out first."""

    sagas: tuple[SagaRecord, ...]
    participants: tuple[ParticipantRead, ...]
    settle_s: float
    waited_s: float
    settled: bool
    error: str | None = None
    """Why the orchestrator's sagas could not be read (then ``sagas`` is empty)."""

    def unreadable(self) -> list[str]:
        """What could not be read, in words (empty when everything was)."""
        failed = [f"the orchestrator's sagas ({self.error})"] if self.error else []
        return failed + [
            f"the ledger of {read.role.name} ({read.error})" for read in self.participants if read.error
        ]


def write_saga_evidence(path: Path, evidence: SagaEvidence) -> None:
    path.write_bytes(msgspec.json.encode(evidence))


def read_saga_evidence_file(path: Path) -> SagaEvidence | None:
    """The cell's saga evidence; None when the file is absent (the cell read none)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return msgspec.json.decode(data, type=SagaEvidence)
    except msgspec.DecodeError as error:
        raise HistoryError(path, 1, f"not the saga evidence a probe writes: {error}") from None
