"""The checkers of the HTTP method contract on hand-built cells: a resource, its twin and the attempts.

Each cell holds operations on a resource as a run records them: the create step ``<op>.create``
(acknowledged, with its effect), then the act itself with its attempts; beside the history, the
states read after the load. The right answer of each is plain from the states: the resource reads as
its twin or not, a DELETE got a 5xx or not, a read left an effect or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from factories import cell_verdict, run_result

from harness.cell import CLIENT_HISTORY, check_cell
from harness.checker import CellExpectations, check
from harness.checkers.registry import columns
from harness.errors import ScenarioError
from harness.faults import plan_fault
from harness.gate import evaluate_gates
from harness.history import (
    AttemptEnd,
    AttemptOutcome,
    AttemptStart,
    Event,
    HistoryWriter,
    OpEnd,
    OpOutcome,
    OpStart,
)
from harness.ledger import Effect
from harness.report.markdown import markdown_summary
from harness.resource_states import STATES_FILE, ResourceRead, ResourceState, write_states
from harness.scenario import GateSpec, gate_specs, load_scenario
from harness.verdict import CellVerdict, RunVerdict

Attempt = int | str
"""One attempt of an act: the status it was answered with, or the transport error it got."""

ORDER = {"id": "o1", "sku": "sku-red", "quantity": 1, "address": None, "address_changes": 0, "views": 0}
ADDRESS = {"line1": "1 Main St", "city": "Leeds"}
TIMEOUT = "ReadTimeout: timed out"


def _outcome(attempt: Attempt) -> AttemptOutcome:
    if isinstance(attempt, str) or attempt >= 500:
        return "info"
    return "ok" if attempt < 300 else "fail"


def act(op_id: str, t0: float, *attempts: Attempt, created: bool = True) -> list[Event]:
    """The create step (acknowledged, or not when ``created`` is False: then nothing else is sent)
    and the act's attempts, laid end to end."""
    create = f"{op_id}.create"
    create_status = 201 if created else 500
    events: list[Event] = [
        OpStart(t=t0, op_id=create, kind="order.create", key=create),
        AttemptStart(t=t0 + 0.01, op_id=create, attempt=1),
        AttemptEnd(
            t=t0 + 0.02,
            op_id=create,
            attempt=1,
            outcome=_outcome(create_status),
            status=create_status,
            resource_id=f"r-{op_id}" if created else None,
        ),
        OpEnd(
            t=t0 + 0.03,
            op_id=create,
            outcome="acknowledged" if created else "unknown",
            attempts=1,
            status=create_status,
        ),
    ]
    if not created:
        return events
    t = t0 + 0.1
    events.append(OpStart(t=t, op_id=op_id, kind="order-act", key=op_id))
    for number, attempt in enumerate(attempts, start=1):
        status, error = (None, attempt) if isinstance(attempt, str) else (attempt, None)
        events.append(AttemptStart(t=t + 0.01, op_id=op_id, attempt=number))
        t += 0.1
        events.append(
            AttemptEnd(
                t=t, op_id=op_id, attempt=number, outcome=_outcome(attempt), status=status, error=error
            )
        )
    last = _outcome(attempts[-1]) if attempts else "info"
    ending: OpOutcome = {"ok": "acknowledged", "fail": "rejected", "info": "unknown"}[last]
    events.append(OpEnd(t=t + 0.01, op_id=op_id, outcome=ending, attempts=len(attempts)))
    return events


def read(status: int | None = 200, error: str | None = None, **fields: Any) -> ResourceRead:
    """A direct GET of an order: ``status`` and the order with ``fields`` changed (no body unless 200)."""
    body = {**ORDER, **fields} if status == 200 else {"detail": "not found"} if status else None
    return ResourceRead(status, body, error)


def state(
    op_id: str,
    method: str,
    after: ResourceRead,
    twin: ResourceRead | None = None,
    ignored: tuple[str, ...] = ("id",),
) -> ResourceState:
    """What ``op_id``'s resource and its twin read as after the load (the twin reads as the order
    does unless given; it was applied once unless the method is safe)."""
    return ResourceState(
        op_id=op_id,
        kind="order-act",
        method=method,
        resource=f"r-{op_id}",
        path=f"/orders/r-{op_id}",
        after=after,
        twin=twin if twin is not None else read(id="twin"),
        twin_resource="twin",
        twin_applied=method not in ("GET", "HEAD"),
        ignored=ignored,
    )


def creates(*op_ids: str) -> list[Effect]:
    """The effect of each operation's create step."""
    return [Effect(op_ref=f"{op_id}.create", resource_id=f"r-{op_id}") for op_id in op_ids]


def judge(
    events: Sequence[Event],
    states: Sequence[ResourceState] | None,
    effects: Sequence[Effect] = (),
    methods: frozenset[str] = frozenset(),
) -> CellVerdict:
    ordered = sorted(events, key=lambda event: event.t)
    expect = CellExpectations(resource_methods=methods)
    return check(ordered, list(effects), variant="v", fault="f", expect=expect, states=states)


def result_of(cell: CellVerdict, checker: str) -> Any:
    found = cell.check(checker)
    assert found is not None
    return found


# -- PUT ---------------------------------------------------------------------------------------------


def test_a_put_retried_after_a_lost_answer_that_reads_as_its_twin_passes() -> None:
    events = act("p1", 0.0, TIMEOUT, 200)
    twin = read(id="twin", address=ADDRESS, address_changes=1)
    after = read(address=ADDRESS, address_changes=1)
    cell = judge(events, [state("p1", "PUT", after, twin)], creates("p1"))
    put = result_of(cell, "put_state")
    assert (put.validity, put.numbers) == (
        "valid",
        {"put_state_mismatches": 0, "put_ops": 1, "put_unknown": 0},
    )
    assert cell.validity == "valid"


def test_a_put_that_appends_a_row_per_call_is_a_mismatch_whose_story_shows_attempts_and_states() -> None:
    events = act("p1", 0.0, TIMEOUT, TIMEOUT, 200)
    twin = read(id="twin", address=ADDRESS, address_changes=1)
    after = read(address=ADDRESS, address_changes=3)
    cell = judge(events, [state("p1", "PUT", after, twin)], creates("p1"))
    put = result_of(cell, "put_state")
    assert put.validity == "invalid" and put.numbers["put_state_mismatches"] == 1
    (anomaly,) = put.anomalies
    assert (anomaly.kind, anomaly.op_id, len(anomaly.attempts)) == ("put_state_mismatch", "p1", 3)
    story = anomaly.explanation
    assert story.startswith("PUT /orders/r-p1: 3 attempts: attempt 1 timed out")
    assert "attempt 3 → 200" in story
    assert "its twin (the request applied once) reads 200, the resource reads 200" in story
    assert "address_changes: 1 on the twin, 3 here" in story
    assert "address:" not in story  # equal fields are not named


def test_ignored_fields_do_not_make_a_mismatch() -> None:
    after = read(id="o-other", created_at="2024-01-01")
    twin = read(id="twin", created_at="2025-06-30")
    ignoring = state("p1", "PUT", after, twin, ignored=("id", "created_at"))
    cell = judge(act("p1", 0.0, 200), [ignoring], creates("p1"))
    assert result_of(cell, "put_state").validity == "valid"


# -- PATCH -------------------------------------------------------------------------------------------


def test_a_keyed_increment_applied_once_passes() -> None:
    events = act("x1", 0.0, TIMEOUT, 200)
    cell = judge(events, [state("x1", "PATCH", read(quantity=2), read(id="twin", quantity=2))], creates("x1"))
    assert result_of(cell, "patch_state").numbers == {
        "patch_state_mismatches": 0,
        "patch_ops": 1,
        "patch_unknown": 0,
    }
    assert cell.validity == "valid"


def test_a_naive_increment_applied_twice_is_a_mismatch_and_a_duplicate_effect() -> None:
    events = act("x1", 0.0, TIMEOUT, 200)
    applied = [Effect(op_ref="x1", resource_id="inc-1"), Effect(op_ref="x1", resource_id="inc-2")]
    patched = state("x1", "PATCH", read(quantity=3), read(id="twin", quantity=2))
    cell = judge(events, [patched], creates("x1") + applied)
    patch = result_of(cell, "patch_state")
    assert patch.validity == "invalid" and patch.numbers["patch_state_mismatches"] == 1
    assert "quantity: 2 on the twin, 3 here" in patch.anomalies[0].explanation
    assert cell.number("ops_with_duplicates") == 1  # the ledger shows it too


# -- DELETE ------------------------------------------------------------------------------------------


def test_a_delete_retried_after_a_lost_answer_gets_404_and_passes() -> None:
    events = act("d1", 0.0, TIMEOUT, 404)
    deleted = state("d1", "DELETE", read(404), read(404))
    cell = judge(events, [deleted], creates("d1"))
    delete = result_of(cell, "delete_outcome")
    assert (delete.validity, delete.numbers) == (
        "valid",
        {"delete_errors": 0, "delete_ops": 1, "delete_unknown": 0},
    )


def test_a_delete_answered_500_when_already_deleted_is_an_error_though_the_resource_is_gone() -> None:
    events = act("d1", 0.0, TIMEOUT, 500, 500)
    cell = judge(events, [state("d1", "DELETE", read(404), read(404))], creates("d1"))
    delete = result_of(cell, "delete_outcome")
    assert delete.validity == "invalid" and delete.numbers["delete_errors"] == 1
    story = delete.anomalies[0].explanation
    assert story.startswith("DELETE /orders/r-d1: 3 attempts: attempt 1 timed out")
    assert "answered 5xx: attempt 2 (500), attempt 3 (500)" in story
    assert "the resource reads 404 after it; its twin (the request applied once) reads 404" in story


def test_a_delete_that_left_its_resource_is_an_error() -> None:
    cell = judge(act("d1", 0.0, 204), [state("d1", "DELETE", read(200), read(404))], creates("d1"))
    delete = result_of(cell, "delete_outcome")
    assert delete.numbers["delete_errors"] == 1
    assert "the resource still reads 200 after it (not 404 or 410)" in delete.anomalies[0].explanation


def test_a_delete_whose_read_failed_is_unknown_unless_an_attempt_got_a_5xx() -> None:
    failed = read(None, error="ConnectError: connection refused")
    quiet = judge(act("d1", 0.0, 204), [state("d1", "DELETE", failed, read(404))], creates("d1"))
    assert result_of(quiet, "delete_outcome").validity == "unknown"
    assert result_of(quiet, "delete_outcome").numbers["delete_unknown"] == 1
    assert quiet.inconclusive and "ConnectError: connection refused" in (quiet.error or "")
    loud = judge(act("d1", 0.0, 500), [state("d1", "DELETE", failed, read(404))], creates("d1"))
    assert result_of(loud, "delete_outcome").validity == "invalid"


# -- GET and HEAD ------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_read_that_changes_nothing_passes(method: str) -> None:
    cell = judge(act("g1", 0.0, TIMEOUT, 200), [state("g1", method, read())], creates("g1"))
    reads = result_of(cell, "safe_methods")
    assert (reads.validity, reads.numbers["unsafe_reads"], reads.numbers["safe_read_ops"]) == ("valid", 0, 1)


def test_a_get_that_counts_views_is_unsafe_by_its_state_and_by_its_effects() -> None:
    viewed = [Effect(op_ref="g1", resource_id="view-1"), Effect(op_ref="g1", resource_id="view-2")]
    unapplied = read(id="twin")
    cell = judge(
        act("g1", 0.0, TIMEOUT, 200), [state("g1", "GET", read(views=2), unapplied)], creates("g1") + viewed
    )
    reads = result_of(cell, "safe_methods")
    assert reads.validity == "invalid" and reads.numbers["unsafe_reads"] == 1
    story = reads.anomalies[0].explanation
    assert "the target recorded 2 effects under it (view-1, view-2)" in story
    assert "its twin (never sent the request) reads 200" in story and "views: 0 on the twin, 2 here" in story


def test_an_effect_under_a_read_is_unsafe_even_when_the_state_reads_alike() -> None:
    logged = [Effect(op_ref="g1", resource_id="audit-1")]
    cell = judge(act("g1", 0.0, 200), [state("g1", "HEAD", read())], creates("g1") + logged)
    assert result_of(cell, "safe_methods").numbers["unsafe_reads"] == 1


# -- what cannot be judged is unknown, never a pass --------------------------------------------------


def test_a_running_cell_has_no_states_and_its_method_checkers_are_unknown() -> None:
    cell = judge(act("p1", 0.0, 200), None, creates("p1"), methods=frozenset({"PUT", "DELETE"}))
    for checker in ("put_state", "delete_outcome"):
        result = result_of(cell, checker)
        assert result.validity == "unknown" and "read once the load has ended" in result.reason
    assert result_of(cell, "patch_state").validity == "valid"  # the scenario has no PATCH on a resource
    assert cell.inconclusive  # so the adaptive stop decides no gate on it


def test_before_any_operation_on_a_resource_began_a_declared_method_is_still_unknown() -> None:
    cell = judge([], None, methods=frozenset({"GET"}))
    assert result_of(cell, "safe_methods").validity == "unknown"


def test_an_operation_whose_state_was_not_read_is_unknown() -> None:
    events = act("p1", 0.0, 200) + act("p2", 1.0, 200)
    cell = judge(events, [state("p1", "PUT", read())], creates("p1", "p2"), methods=frozenset({"PUT"}))
    put = result_of(cell, "put_state")
    assert put.validity == "unknown"
    assert put.numbers == {"put_state_mismatches": 0, "put_ops": 2, "put_unknown": 1}
    assert "p2: no state of its resource was read" in put.reason


def test_an_unread_operation_of_no_known_method_is_unknown_to_every_method_checker() -> None:
    cell = judge(act("p1", 0.0, 200), [], creates("p1"))
    assert all(
        result_of(cell, name).validity == "unknown"
        for name in ("put_state", "patch_state", "delete_outcome", "safe_methods")
    )


def test_an_operation_whose_create_failed_needs_no_state() -> None:
    events = act("p1", 0.0, 200) + act("p2", 1.0, created=False)
    cell = judge(events, [state("p1", "PUT", read())], creates("p1"), methods=frozenset({"PUT"}))
    assert result_of(cell, "put_state").numbers == {"put_state_mismatches": 0, "put_ops": 1, "put_unknown": 0}


def test_a_cell_where_no_operation_of_a_declared_method_was_made_is_unknown() -> None:
    cell = judge(act("p2", 1.0, created=False), [], methods=frozenset({"PUT"}))
    assert "no PUT operation of the cell had its resource read" in result_of(cell, "put_state").reason


@pytest.mark.parametrize(
    ("twin", "after", "why"),
    [
        (
            read(),
            read(None, error="ReadTimeout: timed out"),
            "the resource's read got no answer (ReadTimeout",
        ),
        (read(None, error="ConnectError: refused"), read(), "its twin's read got no answer (ConnectError"),
    ],
)
def test_a_failed_read_makes_the_operation_unknown(twin: ResourceRead, after: ResourceRead, why: str) -> None:
    cell = judge(act("p1", 0.0, 200), [state("p1", "PUT", after, twin)], creates("p1"))
    put = result_of(cell, "put_state")
    assert (put.validity, put.numbers["put_unknown"]) == ("unknown", 1)
    assert why in put.reason


def test_a_broken_operation_makes_the_checker_invalid_though_another_is_unknown() -> None:
    events = act("p1", 0.0, 200) + act("p2", 1.0, 200)
    states = [state("p1", "PUT", read(address_changes=2)), state("p2", "PUT", read(None, error="boom"))]
    put = result_of(judge(events, states, creates("p1", "p2")), "put_state")
    assert (put.validity, put.numbers["put_state_mismatches"], put.numbers["put_unknown"]) == (
        "invalid",
        1,
        1,
    )


def test_a_cell_without_operations_on_a_resource_is_untouched() -> None:
    events = [OpStart(t=0.0, op_id="c1"), AttemptStart(t=0.1, op_id="c1", attempt=1)]
    cell = judge(events, None)
    for name in ("put_state", "patch_state", "delete_outcome", "safe_methods"):
        assert result_of(cell, name).validity == "valid"


# -- from a cell folder (a run, harness report, the running cell's watch) ----------------------------

SCENARIO = "name: t\ntarget: {name: payments}\nfaults: {none: {}}\n"


def _check_folder(tmp_path: Path) -> CellVerdict:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    plan = plan_fault("none", scenario.faults["none"], scenario.seed)
    return check_cell(scenario, plan, "naive", tmp_path, creates("d1"))


def test_a_cell_folder_gives_its_states_to_the_checkers_and_without_them_they_are_unknown(
    tmp_path: Path,
) -> None:
    with HistoryWriter(tmp_path / CLIENT_HISTORY) as writer:
        for event in sorted(act("d1", 0.0, TIMEOUT, 500), key=lambda event: event.t):
            writer.append(event)
    running = _check_folder(tmp_path)
    assert result_of(running, "delete_outcome").validity == "unknown"
    write_states(tmp_path / STATES_FILE, [state("d1", "DELETE", read(404), read(404))])
    finished = _check_folder(tmp_path)
    assert result_of(finished, "delete_outcome").numbers["delete_errors"] == 1


# -- gates and reports -------------------------------------------------------------------------------

GATES = ("max_put_state_mismatches", "max_patch_state_mismatches", "max_delete_errors", "max_unsafe_reads")


def test_the_method_gates_load_from_a_scenario_and_a_misspelt_one_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    thresholds = ", ".join(f"{name}: 0" for name in GATES)
    path.write_text(SCENARIO + f"gates: {{naive: {{min_delete_errors: 1, {thresholds}}}}}\n")
    (spec,) = gate_specs(load_scenario(path).gates["naive"])
    assert set(spec.thresholds) == {*GATES, "min_delete_errors"}
    path.write_text(SCENARIO + "gates: {naive: {max_put_state_mismatch: 0}}\n")
    with pytest.raises(
        ScenarioError, match=r"max_put_state_mismatch: no such gate \(known: .*max_put_state_mismatches"
    ):
        load_scenario(path)


def test_a_method_gate_fails_on_a_broken_cell_with_its_hint_and_on_an_unknown_one() -> None:
    broken = judge(act("d1", 0.0, 500), [state("d1", "DELETE", read(404))], creates("d1"))
    unread = judge(act("d1", 0.0, 204), None, creates("d1"), methods=frozenset({"DELETE"}))
    results = evaluate_gates({"v": GateSpec(max_delete_errors=0)}, RunVerdict(cells=(broken, unread)))
    assert [result.passed for result in results] == [False, False]
    assert "a DELETE of v under f was answered 5xx" in results[0].message
    assert "cannot be checked: the cell is inconclusive" in results[1].message


def test_a_method_column_shows_only_in_a_table_where_a_cell_had_such_operations(tmp_path: Path) -> None:
    plain = cell_verdict("naive", "dropped", operations=10)
    with_puts = cell_verdict("naive", "latency", operations=10, put_ops=4, put_state_mismatches=1)
    assert "PUT ≠ once" not in [column.header for column in columns([plain])]
    assert [column.header for column in columns([plain, with_puts])].count("PUT ≠ once") == 1
    assert "Unsafe reads" not in [column.header for column in columns([plain, with_puts])]
    shown = markdown_summary([run_result(RunVerdict(cells=(plain, with_puts)), (), tmp_path)])
    hidden = markdown_summary([run_result(RunVerdict(cells=(plain,)), (), tmp_path)])
    assert "PUT ≠ once" in shown and "PUT ≠ once" not in hidden
