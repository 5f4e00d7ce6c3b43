"""A run of one saga cell with its folder: a retried refund paid twice after a lost answer on the hop.

Hand-made evidence, as a run leaves it: the cell's ``saga.json`` (the orchestrator's log and each
participant's ledger), its ``faults.jsonl`` (the hop proxy's decision, tagged with its link and saga,
and an orchestrator crash), and a verdict whose saga checkers flagged the operation. Long names and
keys, so the page's lanes are checked at a narrow width with the text they really carry.
"""

from __future__ import annotations

from pathlib import Path

from factories import cell_verdict, run_result

from harness.cell import cell_dir
from harness.history import AttemptEnd, CrashEvent, HistoryWriter, ToxicHit
from harness.result import RunResult
from harness.saga_evidence import (
    CHECKOUT_PARTICIPANTS,
    SAGA_FILE,
    LedgerRow,
    ParticipantRead,
    SagaEvidence,
    SagaRecord,
    StepAsk,
    write_saga_evidence,
)
from harness.verdict import Anomaly, RunVerdict

T0 = 1_800_000_000.0
VARIANT, FAULT = "broken-compensation-not-idempotent", "lost-refunds-on-the-payments-hop"
OP_ID = "bro-lost-refunds-01846c8a-000007"
SAGA_ID = "saga_2623ef8147bb481a8c7e"
PAYMENTS, INVENTORY, SHIPPING = CHECKOUT_PARTICIPANTS


def _row(number: int, kind: str, step: int, at: float, item: str, amount: int) -> LedgerRow:
    return LedgerRow(
        id=f"{kind}_{number:020d}",
        saga_id=SAGA_ID,
        step=step,
        kind=kind,
        idempotency_key=None if kind == "refund" else f"{SAGA_ID}:{step}:{kind}",
        item=item,
        amount=amount,
        reference=OP_ID,
        created_at=T0 + at,
    )


def saga_evidence() -> SagaEvidence:
    """Charged, reserved, booking refused, released, and refunded twice (the retried refund had no key)."""
    record = SagaRecord(
        id=SAGA_ID,
        reference=OP_ID,
        status="compensated",
        steps_done=(1, 2),
        compensations_done=(2, 1),
        created_at=T0 + 0.010,
        asks=(StepAsk(1, "cus_0648", 832), StepAsk(2, "sku-2", 3), StepAsk(3, "2 High St", 1)),
    )
    return SagaEvidence(
        sagas=(record,),
        participants=(
            ParticipantRead(
                PAYMENTS,
                rows=(
                    _row(1, "charge", 1, 0.020, "cus_0648", 832),
                    _row(2, "refund", 1, 0.200, "cus_0648", 832),
                    _row(3, "refund", 1, 0.420, "cus_0648", 832),
                ),
            ),
            ParticipantRead(
                INVENTORY,
                rows=(_row(4, "reserve", 2, 0.050, "sku-2", 3), _row(5, "release", 2, 0.150, "sku-2", 3)),
            ),
            ParticipantRead(SHIPPING),
        ),
        settle_s=15,
        waited_s=1.2,
        settled=True,
    )


def hop_hit() -> ToxicHit:
    return ToxicHit(
        t=T0 + 0.201,
        proxy="harness-proxy-7--hop-payments",
        toxic="drop_response_downstream",
        action="reset",
        link="payments",
        saga_id=SAGA_ID,
        path="/refund",
    )


def client_attempts() -> tuple[AttemptEnd, ...]:
    return (AttemptEnd(t=T0 + 0.5, op_id=OP_ID, attempt=1, outcome="ok", status=409, latency_s=0.5),)


def saga_anomaly(kind: str) -> Anomaly:
    return Anomaly(
        kind=kind,
        op_id=OP_ID,
        effect_count=0,
        resource_ids=(),
        attempts=client_attempts(),
        explanation=f"saga {SAGA_ID}: the refund of step 1 at payments took effect 2 times",
    )


def saga_run(out_dir: Path) -> RunResult:
    """The run, with its one cell's folder written under ``out_dir``."""
    folder = cell_dir(out_dir, VARIANT, FAULT)
    folder.mkdir(parents=True)
    write_saga_evidence(folder / SAGA_FILE, saga_evidence())
    with HistoryWriter(folder / "faults.jsonl") as faults:
        faults.append(hop_hit())
        faults.append(CrashEvent(t=T0 + 0.3, reason="failpoint", detail="exit status 77"))
        faults.append(CrashEvent(t=T0 + 30.0, reason="failpoint", detail="long after this saga"))
    cell = cell_verdict(
        VARIANT,
        FAULT,
        operations=16,
        sagas=16,
        saga_steps_repeated=1,
        money_unbalanced_sagas=1,
        anomalies=(saga_anomaly("repeated_saga_step"), saga_anomaly("money_not_conserved")),
    )
    return run_result(RunVerdict(cells=(cell,)), (), out_dir, variants=(VARIANT,), faults=(FAULT,))
