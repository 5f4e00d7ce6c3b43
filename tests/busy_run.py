"""A run shaped like a real catalogue run, for looking at the page as users do.

Three variants (one with a long name) under three faults (long toxic names with long details), 150
operations per cell over about one second, as ``scenarios/payments.yaml`` gives them. The cells are not
written by hand: each history and its effects go through the real checker, so the anomalies carry the
stories, nearby faults and resource ids a real run gives. Naive under dropped responses duplicates 32
operations; a crash cell loses one acknowledged operation; double submits give replay mismatches; the
idempotent variant stays at 0%.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from factories import run_result as finished_run

from harness.checker import check
from harness.gate import evaluate_gates
from harness.history import (
    AttemptEnd,
    AttemptStart,
    CrashEvent,
    Event,
    FaultEvent,
    OpEnd,
    OpStart,
    RestartEvent,
)
from harness.ledger import Effect
from harness.result import RunResult
from harness.scenario import GateSpec
from harness.verdict import CellVerdict, RunVerdict

T0 = 1_796_217_207.0
OPERATIONS = 150
SPACING_S = 0.0065
"""150 operations in just under a second, as a real cell of the catalogue's payments scenario runs."""

VARIANTS = ("naive", "idempotent", "broken-redis-key-after-effect")
FAULTS = ("dropped-responses", "double-submit", "crash-after-commit-before-response")

DROP_ON = FaultEvent(t=T0, name="drop_response_downstream", action="on", detail="mode=reset, seed=1474671260")
DROP_OFF = FaultEvent(t=T0 + 1.05, name="drop_response_downstream", action="off")
TWIN_ON = FaultEvent(t=T0, name="duplicate_request_upstream", action="on", detail="twins=1, delay_ms=5")
TWIN_OFF = FaultEvent(t=T0 + 1.05, name="duplicate_request_upstream", action="off")
CRASH = CrashEvent(t=T0 + 0.4, reason="failpoint", detail="exit status 17 after_commit_before_response")
RESTART = RestartEvent(t=T0 + 0.55, downtime_s=0.15)


def _charge(variant: str, fault: str, index: int, attempt: int) -> str:
    return "ch_" + hashlib.sha1(f"{variant}/{fault}/{index}/{attempt}".encode()).hexdigest()[:24]


def _op_id(variant: str, fault: str, index: int) -> str:
    return f"{variant[:3]}-{fault[:12]}-b95bd428-{index:06d}"


def _operation(
    variant: str, fault: str, index: int, answers: list[tuple[int | None, str | None]], charges: list[str]
) -> tuple[list[Event], list[Effect]]:
    """One op's events (attempts end to end, 8 to 60 ms each) and the effects the target made for it.

    ``answers`` is each attempt's (status, error); a 201 answers with the attempt's charge."""
    op_id = _op_id(variant, fault, index)
    t = T0 + 0.01 + index * SPACING_S
    events: list[Event] = [OpStart(t=t, op_id=op_id)]
    for number, (status, error) in enumerate(answers, start=1):
        events.append(AttemptStart(t=t, op_id=op_id, attempt=number))
        latency_s = 0.008 + (index * 7 + number * 13) % 53 / 1000
        t += latency_s
        events.append(
            AttemptEnd(
                t=t,
                op_id=op_id,
                attempt=number,
                outcome="ok" if status == 201 else "info",
                status=status,
                resource_id=_charge(variant, fault, index, number) if status == 201 else None,
                error=error,
                latency_s=latency_s,
            )
        )
    status, _ = answers[-1]
    events.append(
        OpEnd(
            t=t + 0.001,
            op_id=op_id,
            outcome="acknowledged" if status == 201 else "unknown",
            attempts=len(answers),
            status=status,
            resource_id=_charge(variant, fault, index, len(answers)) if status == 201 else None,
        )
    )
    effects = [Effect(op_ref=op_id, resource_id=charge, t=t - 0.01) for charge in charges]
    return events, effects


def _cell(variant: str, fault: str) -> CellVerdict:
    """The cell's history and effects, judged by the real checker."""
    events: list[Event] = []
    effects: list[Effect] = []
    broken = variant != "idempotent"
    for index in range(OPERATIONS):
        charge = [_charge(variant, fault, index, 1)]
        answers: list[tuple[int | None, str | None]] = [(201, None)]
        if fault == "dropped-responses" and index % 4 == 1 and (variant == "naive" or index < 40):
            answers = [(None, "connection reset"), (201, None)]
            retried = _charge(variant, fault, index, 2)
            charge = [charge[0], retried] if broken and index < 128 else [retried]
        elif fault == "double-submit" and index % 3 == 0 and broken:
            answers = [(201, None), (201, None)]
            charge = [charge[0], _charge(variant, fault, index, 2)]
        elif fault.startswith("crash") and index in (61, 62, 63):
            answers = [(None, "connection refused"), (201, None)]
            charge = [] if index == 62 and variant == "naive" else charge
        op_events, op_effects = _operation(variant, fault, index, answers, charge)
        events += op_events
        effects += op_effects
    events += {
        "dropped-responses": [DROP_ON, DROP_OFF],
        "double-submit": [TWIN_ON, TWIN_OFF],
    }.get(fault, [CRASH, RESTART])
    return check(sorted(events, key=lambda event: event.t), effects, variant=variant, fault=fault)


GATES = {
    "naive": GateSpec(min_duplicate_rate=0.01),
    "idempotent": GateSpec(max_duplicate_rate=0.0, max_lost_acknowledged=0, max_replay_mismatches=0),
}


def busy_run(out_dir: Path) -> RunResult:
    """The run: 3 variants × 3 faults, judged and gated as a real run is."""
    verdict = RunVerdict(cells=tuple(_cell(variant, fault) for fault in FAULTS for variant in VARIANTS))
    return finished_run(
        verdict,
        evaluate_gates(GATES, verdict),
        out_dir,
        run_id="20261202-131412-payments-redis",
        scenario_name="payments-redis",
        scenario_path="scenarios/payments-redis.yaml",
        description=(
            "POST /charges with the idempotency record in Redis. idempotent-redis takes the key with SET NX "
            "before charging and stores the response after; broken-redis-key-after-effect charges first."
        ),
        seed=2718,
        started_at=T0,
        duration_s=74.0,
        variants=VARIANTS,
        faults=FAULTS,
    )
