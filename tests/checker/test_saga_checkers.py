"""The five saga checkers on hand-built saga evidence: one correct run and each broken pattern.

Each cell is what a saga probe reads after the load: the orchestrator's sagas and each participant's
ledger (levels follow the ledger unless a test says otherwise). The right answer of each is plain
from the rows: a refund paid twice, a charge that landed after its refund, a reservation of a saga
the orchestrator forgot, a charge taken twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.checker import CellExpectations, check
from harness.checkers.registry import checkers, columns
from harness.checkers.saga_story import SagaChecker
from harness.errors import HistoryError
from harness.saga_evidence import (
    CHECKOUT_PARTICIPANTS,
    SAGA_FILE,
    LedgerRow,
    ParticipantRead,
    SagaEvidence,
    SagaRecord,
    StepAsk,
    read_saga_evidence_file,
    write_saga_evidence,
)
from harness.verdict import CellVerdict

SAGA_CHECKERS = tuple(checker.name for checker in checkers() if isinstance(checker, SagaChecker))
ROLES = {role.name: role for role in CHECKOUT_PARTICIPANTS}
T0 = 1_700_000_000.0
INITIAL = {"payments": 0, "inventory": 100, "shipping": 1000}
ITEMS = {"payments": "cus_1", "inventory": "sku_1", "shipping": "1 Main St"}
ASKED = {"payments": 700, "inventory": 2, "shipping": 1}


def saga(saga_id: str, status: str, done: Sequence[int] = (), undone: Sequence[int] = ()) -> SagaRecord:
    asks = tuple(StepAsk(ROLES[name].step, ITEMS[name], ASKED[name]) for name in ROLES)
    return SagaRecord(saga_id, f"op-{saga_id}", status, tuple(done), tuple(undone), T0, asks)


def row(
    participant: str, saga_id: str, kind: str, at: float, *, amount: int | None = None, keyed: bool = True
) -> LedgerRow:
    role = ROLES[participant]
    key = f"{saga_id}:{role.step}:{kind}" if keyed else None
    return LedgerRow(
        f"{kind}_{saga_id}_{at}",
        saga_id,
        role.step,
        kind,
        key,
        ITEMS[participant],
        ASKED[participant] if amount is None else amount,
        f"op-{saga_id}",
        T0 + at,
    )


def evidence(sagas: Sequence[SagaRecord], *rows: LedgerRow, unreadable: str | None = None) -> SagaEvidence:
    """The probe's reading: each participant's rows, and levels that agree with them."""
    reads = []
    for name, role in ROLES.items():
        mine = tuple(sorted((r for r in rows if r.step == role.step), key=lambda r: r.created_at))
        if name == unreadable:
            reads.append(ParticipantRead(role, error="ConnectError: refused"))
            continue
        levels: dict[str, int] = {}
        for entry in mine:
            signed = entry.amount if entry.kind == role.forward else -entry.amount
            levels[entry.item] = levels.get(entry.item, INITIAL[name]) + role.forward_sign * signed
        reads.append(ParticipantRead(role, mine, levels, INITIAL[name], None if name == "payments" else 0))
    return SagaEvidence(tuple(sagas), tuple(reads), settle_s=5.0, waited_s=1.2, settled=True)


def judged(read: SagaEvidence | None, *, declared: bool = True) -> CellVerdict:
    return check([], [], variant="v", fault="f", saga=read, expect=CellExpectations(saga=declared))


def validities(cell: CellVerdict) -> dict[str, str]:
    return {name: cell.check(name).validity for name in SAGA_CHECKERS}  # type: ignore[union-attr]


def only_invalid(cell: CellVerdict, *names: str) -> None:
    assert validities(cell) == {name: "invalid" if name in names else "valid" for name in SAGA_CHECKERS}


def done_saga(saga_id: str, *, at: float = 0.0) -> list[LedgerRow]:
    return [
        row("payments", saga_id, "charge", at + 0.01),
        row("inventory", saga_id, "reserve", at + 0.02),
        row("shipping", saga_id, "book", at + 0.03),
    ]


def test_a_correct_run_passes_every_saga_checker() -> None:
    refused_stock = [row("payments", "s2", "charge", 1.01), row("payments", "s2", "refund", 1.05)]
    read = evidence(
        [saga("s1", "done", [1, 2, 3]), saga("s2", "compensated", [1], [1])], *done_saga("s1"), *refused_stock
    )

    cell = judged(read)

    only_invalid(cell)
    assert cell.number("sagas") == 2
    assert {column.header for column in columns([cell])} >= {"Half-done sagas", "Money off", "Stock off"}


def test_a_refund_paid_twice_breaks_step_once_and_money() -> None:
    twice = [
        row("payments", "s1", "charge", 0.01),
        row("payments", "s1", "refund", 0.40),
        row("payments", "s1", "refund", 0.90),
    ]

    cell = judged(evidence([saga("s1", "compensated", [1], [1])], *twice))

    only_invalid(cell, "saga_step_once", "money_conserved")
    assert (cell.number("saga_steps_repeated"), cell.number("money_unbalanced_sagas")) == (1, 1)
    assert cell.number("customers_unbalanced") == 1
    story = cell.check("saga_step_once").anomalies[0]  # type: ignore[union-attr]
    assert story.op_id == "op-s1"
    assert (
        "the refund of step 1 at payments took effect 2 times (1400 in all), sent with 1 distinct key(s)"
        in (story.explanation)
    )
    timeline = story.explanation.split("Timeline: ")[1]
    assert timeline.startswith("+0.000 s orchestrator opened s1 for op-s1; +0.010 s payments: charge step 1")
    assert (
        "+0.400 s payments: refund step 1 700 cus_1 (key s1:1:refund); +0.900 s payments: refund" in timeline
    )
    assert timeline.endswith("the orchestrator's log: compensated (steps done: 1; compensations done: 1)")


def test_a_late_charge_without_refund_leaves_the_saga_half_done_and_money_off() -> None:
    late = [row("payments", "s1", "refund", 0.31, amount=0), row("payments", "s1", "charge", 0.71)]

    cell = judged(evidence([saga("s1", "compensated", [], [1])], *late))

    only_invalid(cell, "saga_settled", "money_conserved")
    half_done = cell.check("saga_settled").anomalies[0]  # type: ignore[union-attr]
    assert "says compensated, but the charge of step 1 at payments still stands" in half_done.explanation
    money = cell.check("money_conserved").anomalies[0]  # type: ignore[union-attr]
    assert "net 700 of cus_1 for a saga that ended compensated, which calls for 0" in money.explanation


def test_a_reservation_held_after_the_orchestrator_forgot_its_saga() -> None:
    forgotten = [row("payments", "s1", "charge", 0.01), row("inventory", "s1", "reserve", 0.02)]

    cell = judged(evidence([], *forgotten))

    only_invalid(cell, "saga_settled", "money_conserved", "stock_conserved", "reservations_released")
    assert (cell.number("sagas"), cell.number("reservations_held")) == (1, 1)
    assert cell.number("stock_items_unbalanced") == 1 and cell.number("stock_below_floor") == 0
    held = cell.check("reservations_released").anomalies[0]  # type: ignore[union-attr]
    assert (
        "ended unknown to the orchestrator and still holds the reserve of step 2 at inventory (2)"
        in held.explanation
    )
    assert held.explanation.endswith("the orchestrator has no record of this saga")


def test_a_charge_taken_twice_by_naive_breaks_step_once_and_money() -> None:
    twice = [*done_saga("s1"), row("payments", "s1", "charge", 0.5, keyed=False)]

    cell = judged(evidence([saga("s1", "done", [1, 2, 3])], *twice))

    only_invalid(cell, "saga_step_once", "money_conserved")
    story = cell.check("saga_step_once").anomalies[0]  # type: ignore[union-attr]
    assert (
        "the charge of step 1 at payments took effect 2 times (1400 in all), sent with 2 distinct key(s)"
        in story.explanation
    )


def test_stock_that_went_below_its_floor_and_a_level_unlike_its_ledger() -> None:
    read = evidence([saga("s1", "done", [1, 2, 3])], *done_saga("s1"))
    inventory = read.participants[1]
    drained = ParticipantRead(inventory.role, inventory.rows, {"sku_1": -1}, initial_level=1, floor=0)
    read = SagaEvidence(read.sagas, (read.participants[0], drained, read.participants[2]), 5.0, 1.0, True)

    cell = judged(read)

    assert validities(cell)["stock_conserved"] == "invalid"
    assert (cell.number("stock_below_floor"), cell.number("stock_unbalanced_sagas")) == (1, 0)
    words = cell.check("stock_conserved").anomalies[0].explanation  # type: ignore[union-attr]
    assert "went to -1, below the floor 0, with reserve step 2 of saga s1" in words


def test_a_saga_still_pending_after_the_settle_time_is_half_done_and_unjudged_elsewhere() -> None:
    cell = judged(evidence([saga("s1", "pending", [1])], row("payments", "s1", "charge", 0.01)))

    assert validities(cell)["saga_settled"] == "invalid"
    assert cell.number("sagas_pending") == 1
    assert validities(cell)["money_conserved"] == "unknown"
    assert "still pending after the settle time (1.2 s of at most 5 s)" in (
        cell.check("saga_settled").anomalies[0].explanation
    )  # type: ignore[union-attr]


@pytest.mark.parametrize("declared", [True, False])
def test_no_saga_evidence_is_unknown_when_declared_and_nothing_otherwise(declared: bool) -> None:
    cell = judged(None, declared=declared)

    assert set(validities(cell).values()) == {"unknown" if declared else "valid"}
    assert not {column.header for column in columns([cell])} & {"Half-done sagas", "Money off"}
    if declared:
        assert "saga_settled: no saga evidence was read for the cell" in (cell.error or "")


def test_an_unreadable_ledger_is_unknown_unless_another_broke_the_invariant() -> None:
    fine = judged(evidence([saga("s1", "done", [1, 2, 3])], *done_saga("s1"), unreadable="inventory"))
    broken = judged(
        evidence(
            [saga("s1", "compensated", [1], [1])],
            row("payments", "s1", "charge", 0.01),
            unreadable="inventory",
        )
    )

    assert validities(fine)["stock_conserved"] == "unknown"
    assert validities(fine)["money_conserved"] == "valid"
    assert "the ledger of inventory could not be read (ConnectError: refused)" in (fine.error or "")
    assert validities(broken)["saga_settled"] == "invalid"


def test_an_unreadable_orchestrator_is_unknown_for_every_saga_checker() -> None:
    read = SagaEvidence((), evidence([]).participants, 5.0, 5.0, False, error="ReadTimeout: timed out")

    assert set(validities(judged(read)).values()) == {"unknown"}


def test_saga_json_round_trips_and_a_damaged_one_is_refused(tmp_path: Path) -> None:
    read = evidence([saga("s1", "done", [1, 2, 3])], *done_saga("s1"))
    path = tmp_path / SAGA_FILE

    assert read_saga_evidence_file(path) is None
    write_saga_evidence(path, read)
    assert read_saga_evidence_file(path) == read
    path.write_text('{"sagas": 3}', encoding="utf-8")
    with pytest.raises(HistoryError, match="not the saga evidence"):
        read_saga_evidence_file(path)
