"""The saga probe on a fake reader and a fake clock: when it counts the sagas settled, and what a
failed read leaves in the evidence."""

from __future__ import annotations

from collections.abc import Sequence

from harness.saga_evidence import CHECKOUT_PARTICIPANTS, LedgerRow, ParticipantRole, SagaRecord
from harness.saga_reads import Levels, probe_sagas


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class ScriptedReader:
    """Pending until ``pending_until``; a charge row appears at ``late_row_at``; shipping's state fails."""

    def __init__(self, clock: FakeClock, pending_until: float, late_row_at: float) -> None:
        self.clock, self.pending_until, self.late_row_at = clock, pending_until, late_row_at

    def sagas(self) -> Sequence[SagaRecord]:
        status = "pending" if self.clock.now < self.pending_until else "compensated"
        return [SagaRecord("s1", "op-1", status, (), (1,), 0.0)]

    def ledger(self, role: ParticipantRole) -> Sequence[LedgerRow]:
        if role.name != "payments" or self.clock.now < self.late_row_at:
            return []
        return [LedgerRow("r1", "s1", 1, "charge", "s1:1:charge", "cus_1", 700, "op-1", 1.0)]

    def levels(self, role: ParticipantRole) -> Levels:
        if role.name == "shipping":
            raise ConnectionError("refused")
        return Levels({}, 100, 0)


def probe(pending_until: float, late_row_at: float, settle_s: float) -> tuple[float, object]:
    clock = FakeClock()
    reader = ScriptedReader(clock, pending_until, late_row_at)
    read = probe_sagas(
        reader, CHECKOUT_PARTICIPANTS, settle_s, quiet_s=1.0, poll_s=0.1, clock=clock, sleep=clock.sleep
    )
    return clock.now, read


def test_settled_once_nothing_is_pending_and_a_late_row_has_been_quiet_for_a_while() -> None:
    now, read = probe(pending_until=0.5, late_row_at=1.2, settle_s=10.0)

    assert read.settled and 2.2 <= now < 2.5  # quiet for 1 s after the late row at 1.2 s
    payments, inventory, shipping = read.participants
    assert [row.kind for row in payments.rows] == ["charge"]
    assert inventory.initial_level == 100 and inventory.error is None
    assert shipping.error == "ConnectionError: refused" and shipping.rows == ()
    assert [saga.status for saga in read.sagas] == ["compensated"]


def test_the_settle_time_bounds_the_wait_when_a_saga_stays_pending() -> None:
    now, read = probe(pending_until=99.0, late_row_at=0.0, settle_s=2.0)

    assert not read.settled and now == read.waited_s and 2.0 <= now < 2.2
    assert [saga.status for saga in read.sagas] == ["pending"]
