"""When a running cell's gates are decided: hand-made verdicts of the evidence so far."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from harness.scenario import GateSpec
from harness.stopping import CellDecision, cell_gates, decide_cell
from harness.verdict import CellVerdict, StopNote
from harness.wording import stop_note
from tests.factories import cell_verdict

IDEMPOTENT = GateSpec.model_validate(
    {"max_duplicate_rate": 0, "resolution": 0.1, "max_lost_acknowledged": 0, "max_replay_mismatches": 0}
)
NAIVE = GateSpec.model_validate({"min_duplicate_rate": 0.01, "max_lost_acknowledged": 0})


def _cell(operations: int, ended: int | None = None, **numbers: Any) -> CellVerdict:
    """A conclusive cell with ``operations`` begun, ``ended`` of them acknowledged (all by default)."""
    return cell_verdict("v", "f", operations=operations, acknowledged=operations if ended is None else ended,
                        **numbers)  # fmt: skip


def _decide(cell: CellVerdict, spec: GateSpec) -> CellDecision:
    return decide_cell(cell, cell_gates({"v": spec}, "v", "f"), confidence=0.95)


def _outcomes(decision: CellDecision) -> dict[str, str]:
    return {gate.name: gate.outcome for gate in decision.gates}


def test_a_zero_gate_passes_once_29_exposed_ended_operations_show_no_duplicate() -> None:
    assert not _decide(_cell(120, exposed_ops=28), IDEMPOTENT).decided
    decision = _decide(_cell(120, exposed_ops=29), IDEMPOTENT)
    assert decision.decided and set(_outcomes(decision).values()) == {"pass"}
    assert decision.gates[0].evidence == (
        "duplicate rate 95% upper bound 9.814% < 10% over 29 exposed operations"
    )


def test_operations_still_in_flight_do_not_count_as_clean() -> None:
    """An exposed operation whose retry has not ended may still duplicate."""
    assert not _decide(_cell(120, ended=115, exposed_ops=30), IDEMPOTENT).decided
    assert _decide(_cell(120, ended=119, exposed_ops=30), IDEMPOTENT).decided


def test_the_first_duplicate_fails_a_zero_gate_and_decides_the_counts_with_it() -> None:
    decision = _decide(_cell(10, exposed_ops=3, ops_with_duplicates=1), IDEMPOTENT)
    assert decision.decided
    assert _outcomes(decision) == {
        "max_duplicate_rate": "fail",
        "max_lost_acknowledged": "pass",
        "max_replay_mismatches": "pass",
    }
    assert decision.gates[0].evidence == "duplicated operations 1 > 0"


def test_a_count_gate_fails_at_the_first_violation_but_never_passes_on_its_own() -> None:
    counts_only = GateSpec.model_validate({"max_lost_acknowledged": 0})
    assert not _decide(_cell(500, exposed_ops=500), counts_only).decided
    decision = _decide(_cell(5, exposed_ops=1, lost_acknowledged=1), counts_only)
    assert decision.decided and decision.gates[0].evidence == "lost acknowledged 1 > 0"


def test_a_zero_gate_without_a_resolution_never_passes_early() -> None:
    bare = GateSpec.model_validate({"max_duplicate_rate": 0})
    assert _outcomes(_decide(_cell(10_000, exposed_ops=10_000), bare)) == {"max_duplicate_rate": "open"}


def test_a_min_rate_gate_passes_once_the_lower_bound_clears_it() -> None:
    assert not _decide(_cell(6, exposed_ops=2, ops_with_duplicates=1), NAIVE).decided
    decision = _decide(_cell(30, exposed_ops=10, ops_with_duplicates=8), NAIVE)
    assert _outcomes(decision) == {"min_duplicate_rate": "pass", "max_lost_acknowledged": "pass"}
    assert decision.gates[0].evidence.startswith("duplicate rate 95% lower bound ")
    assert decision.gates[0].evidence.endswith("% > 1%")


@pytest.mark.parametrize(("duplicated", "outcome"), [(0, "pass"), (200, "fail"), (50, "open")])
def test_a_max_rate_above_zero_is_decided_by_whichever_bound_leaves_it(duplicated: int, outcome: str) -> None:
    spec = GateSpec.model_validate({"max_duplicate_rate": 0.05})
    decision = _decide(_cell(1000, exposed_ops=300, ops_with_duplicates=duplicated), spec)
    assert _outcomes(decision) == {"max_duplicate_rate": outcome}


def test_nothing_is_decided_while_a_guard_is_unmet() -> None:
    """Stopping there would leave the cell inconclusive, and that fails every gate."""
    cell = dataclasses.replace(_cell(30, exposed_ops=10, ops_with_duplicates=8), validity="unknown")
    assert _outcomes(_decide(cell, NAIVE)) == {"min_duplicate_rate": "open", "max_lost_acknowledged": "open"}


def test_gates_limited_to_other_faults_are_not_on_the_cell() -> None:
    elsewhere = GateSpec.model_validate({"faults": ["g"], "max_duplicate_rate": 0})
    assert cell_gates({"v": elsewhere}, "v", "f") == ()
    assert not _decide(_cell(10), elsewhere).decided


def test_the_stop_note_reads_the_same_in_every_report() -> None:
    note = _decide(_cell(212, exposed_ops=40), IDEMPOTENT).note()
    bound = "duplicate rate 95% upper bound 7.216% < 10% over 40 exposed operations"
    assert note == StopNote(212, "decided", (bound,))
    assert stop_note(note) == f"stopped after 212 ops: decided, {bound}"
    assert stop_note(None) == ""
