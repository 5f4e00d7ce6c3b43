"""The guards that keep a green verdict from being vacuous: a fault must have hit, planned kills must
have been made, and the target must have acknowledged enough — else the cell is unknown and every gate
on it fails, saying which guard and the numbers. Each case is a hand-made history."""

from __future__ import annotations

from harness.checker import CellExpectations, check
from harness.gate import evaluate_gates
from harness.history import (
    AttemptEnd,
    AttemptStart,
    CrashEvent,
    CrashPlanEvent,
    Event,
    FaultEvent,
    OpEnd,
    OpStart,
    ToxicHit,
)
from harness.ledger import Effect
from harness.scenario import GateSpec
from harness.verdict import CellVerdict, RunVerdict

GUARDED = CellExpectations(fault_acts=True, min_exposed=1, min_acknowledged_rate=0.5)


def acknowledged(
    op_id: str, t: float, status: int = 201, latency_s: float = 0.1, twin: bool = False
) -> list[Event]:
    events: list[Event] = [OpStart(t=t, op_id=op_id), AttemptStart(t=t, op_id=op_id, attempt=1)]
    if twin:
        events.append(AttemptStart(t=t, op_id=op_id, attempt=2, twin_of=1))
    end = t + latency_s
    outcome = "acknowledged" if 200 <= status < 300 else "unknown"
    attempt_outcome = "ok" if outcome == "acknowledged" else "info"
    events.append(
        AttemptEnd(t=end, op_id=op_id, attempt=1, outcome=attempt_outcome, status=status, latency_s=latency_s)
    )
    events.append(OpEnd(t=end, op_id=op_id, outcome=outcome, attempts=1, status=status))
    return events


def judged(
    events: list[Event], effects: list[Effect] | None = None, expect: CellExpectations = GUARDED
) -> CellVerdict:
    ordered = sorted(events, key=lambda event: event.t)
    found = (
        effects
        if effects is not None
        else [Effect(e.op_id, f"r-{e.op_id}") for e in ordered if isinstance(e, OpStart)]
    )
    return check(ordered, found, variant="idempotent", fault="f", expect=expect)


def test_a_fault_that_hit_nothing_makes_the_cell_unknown_and_fails_its_gates() -> None:
    cell = judged([*acknowledged("a", 0.0), *acknowledged("b", 1.0)])

    assert cell.validity == "unknown"
    assert cell.error == "exposure: the fault hit 0 of 2 operations, fewer than min_exposed 1 (nothing fired)"
    (gate,) = evaluate_gates(
        {"idempotent": GateSpec.model_validate({"max_duplicate_rate": 0})}, RunVerdict((cell,))
    )
    assert not gate.passed and "inconclusive (exposure: the fault hit 0 of 2" in gate.message


def test_a_per_request_toxic_hits_the_operation_the_proxy_recorded() -> None:
    hit = ToxicHit(t=0.05, proxy="p", toxic="drop_response_downstream", op_id="a", action="reset")
    stray = ToxicHit(t=0.06, proxy="p", toxic="drop_response_downstream", op_id=None, action="reset")
    cell = judged([*acknowledged("a", 0.0), *acknowledged("b", 1.0), hit, stray])

    assert cell.validity == "valid" and cell.exposed_ops == 1 and cell.fault_firings == 2
    assert cell.check("exposure").details == {"drop_response_downstream": {"fired": 2, "hit": 1}}  # type: ignore[union-attr]


def test_a_kill_hits_what_was_in_flight_and_planned_kills_must_all_be_made() -> None:
    events = [
        *acknowledged("a", 0.0, latency_s=2.0),  # in flight from 0 to 2 s
        *acknowledged("b", 3.0),
        CrashEvent(t=1.0, reason="kill", planned_s=1.0),
        CrashPlanEvent(
            t=5.0, planned=2, made=1, load_started_t=0.0, detail="kill at 4 s not made: the load ended first"
        ),
    ]
    cell = judged(events)

    assert (cell.exposed_ops, cell.crashes_planned, cell.crashes_made) == (1, 2, 1)
    assert cell.validity == "unknown"
    assert cell.error == (
        "crash: 2 kills planned, 1 made, 1 operations in flight at them "
        "(kill at 4 s not made: the load ended first)"
    )


def test_a_kill_with_nothing_in_flight_hits_nothing() -> None:
    events = [
        *acknowledged("a", 0.0),
        CrashEvent(t=0.5, reason="kill", planned_s=0.5),
        CrashPlanEvent(t=5.0, planned=1, made=1, load_started_t=0.0),
        *acknowledged("b", 3.0),
    ]
    cell = judged(events)

    assert (cell.exposed_ops, cell.crashes_made, cell.validity) == (0, 1, "unknown")
    assert cell.error.startswith("exposure: the fault hit 0 of 2 operations")  # type: ignore[union-attr]


def test_a_doubled_first_attempt_and_a_toxic_window_are_exposure() -> None:
    events = [
        *acknowledged("a", 0.0, twin=True),
        *acknowledged("b", 1.0),
        *acknowledged("c", 2.5),
        FaultEvent(t=0.9, name="postgres_latency", action="on"),
        FaultEvent(t=2.0, name="postgres_latency", action="off"),
    ]
    cell = judged(events)

    assert cell.validity == "valid" and cell.exposed_ops == 2
    assert cell.check("exposure").details == {  # type: ignore[union-attr]
        "double_submit": {"fired": 1, "hit": 1},
        "postgres_latency": {"fired": 1, "hit": 1},
    }


def test_a_target_that_acknowledges_too_little_is_unknown_and_says_how_it_answered() -> None:
    hits = [ToxicHit(t=0.0, proxy="p", toxic="t", op_id=op, action="reset") for op in ("a", "b", "c")]
    events = [
        *acknowledged("a", 0.0, status=500),
        *acknowledged("b", 1.0, status=500),
        *acknowledged("c", 2.0),
        *hits,
    ]
    cell = judged(events, effects=[Effect("c", "r-c")])

    assert cell.validity == "unknown" and cell.acknowledged_rate == 1 / 3
    assert cell.error == (
        "acknowledged: 1 of 3 operations acknowledged (33%), below min_acknowledged_rate 50%; "
        "attempts were answered 500 ×2, 201 ×1"
    )


def test_guards_lowered_on_purpose_let_the_same_cells_be_judged() -> None:
    lenient = CellExpectations(fault_acts=True, min_exposed=0, min_acknowledged_rate=0.0)
    assert judged([*acknowledged("a", 0.0, status=500)], effects=[], expect=lenient).validity == "valid"
    assert (
        judged([*acknowledged("a", 0.0)], expect=CellExpectations()).validity == "valid"
    )  # no fault: no guard


def test_a_failpoint_exit_hits_the_attempts_it_cut_not_those_refused_while_it_was_down() -> None:
    cut = [
        OpStart(t=0.0, op_id="cut"),
        AttemptStart(t=0.0, op_id="cut", attempt=1),
        AttemptEnd(t=0.9, op_id="cut", attempt=1, outcome="info", error="RemoteDisconnected", latency_s=0.9),
    ]
    refused = [
        OpStart(t=0.95, op_id="refused"),
        AttemptStart(t=0.95, op_id="refused", attempt=1),
        AttemptEnd(
            t=0.96, op_id="refused", attempt=1, outcome="fail", error="ConnectionRefusedError", latency_s=0.01
        ),
    ]
    exit_noticed = CrashEvent(t=1.0, reason="failpoint", detail="exit status 17")
    cell = judged([*cut, *refused, *acknowledged("later", 3.0), exit_noticed], effects=[])

    assert cell.check("exposure").details == {"failpoint exit": {"fired": 1, "hit": 1}}  # type: ignore[union-attr]
    assert cell.exposed_ops == 1


def test_an_unmet_guard_fails_every_gate_even_where_another_checker_found_a_duplicate() -> None:
    events = [*acknowledged("a", 0.0), *acknowledged("b", 1.0)]  # the fault hit nothing
    cell = judged(events, effects=[Effect("a", "r-1"), Effect("a", "r-2"), Effect("b", "r-b")])

    assert cell.validity == "invalid" and cell.inconclusive  # a duplicate is real; the guard still holds
    specs = {"idempotent": GateSpec.model_validate({"min_duplicate_rate": 0.01, "max_lost_acknowledged": 0})}
    gates = evaluate_gates(specs, RunVerdict((cell,)))
    assert [gate.passed for gate in gates] == [False, False]
    assert all("inconclusive (exposure: the fault hit 0 of 2" in gate.message for gate in gates)


def test_a_failpoint_exit_in_work_done_after_the_answer_hits_one_unnamed_operation() -> None:
    """A mail worker or a consumer dies on a queued job: no attempt was cut, yet an operation was hit."""
    events = [*acknowledged("a", 0.0), *acknowledged("b", 1.0), CrashEvent(t=5.0, reason="failpoint")]
    cell = judged(events)

    assert cell.validity == "valid" and cell.exposed_ops == 1
    assert cell.check("exposure").details == {"failpoint exit": {"fired": 1, "hit": 1}}  # type: ignore[union-attr]
