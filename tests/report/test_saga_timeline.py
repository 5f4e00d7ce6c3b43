"""Each broken saga of a cell drawn as lanes across the services, from the cell's saga.json and faults."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from saga_run import OP_ID, SAGA_ID, client_attempts, hop_hit, saga_evidence, saga_run

from harness.checkers.saga_story import saga_views
from harness.report.html import render_html
from harness.report.saga_timeline import Lane, build_timeline, cell_saga_timelines, saga_kinds
from harness.result import RunResult


def lane_texts(lanes: Sequence[Lane]) -> dict[str, list[str]]:
    return {lane.service: [f"{mark.at} {mark.text}" for mark in lane.marks] for lane in lanes}


def test_the_lanes_hold_each_services_events_in_time_order_with_the_hop_fault_on_its_participant() -> None:
    views = saga_views(saga_evidence())
    timeline = build_timeline(
        OP_ID,
        ["Saga steps that took effect twice"],
        client_attempts(),
        views,
        ["payments", "inventory", "shipping"],
        [hop_hit()],
    )
    lanes = lane_texts(timeline.lanes)
    assert list(lanes) == ["client", "orchestrator", "payments", "inventory", "shipping"]
    assert lanes["client"] == ["+0.000 s attempt 1 → 409 after 500 ms"]
    assert lanes["orchestrator"] == [f"+0.010 s opened {SAGA_ID}"]
    assert lanes["payments"] == [
        f"+0.020 s charge step 1: 832 cus_0648 (key {SAGA_ID}:1:charge)",
        "+0.200 s refund step 1: 832 cus_0648 (no key)",
        "+0.201 s hop fault drop_response_downstream: reset on /refund",
        "+0.420 s refund step 1: 832 cus_0648 (no key)",
    ]
    assert [mark.tone for lane in timeline.lanes if lane.service == "payments" for mark in lane.marks] == [
        "forward",
        "compensation",
        "fault",
        "compensation",
    ]
    assert lanes["inventory"] == [
        f"+0.050 s reserve step 2: 3 sku-2 (key {SAGA_ID}:2:reserve)",
        f"+0.150 s release step 2: 3 sku-2 (key {SAGA_ID}:2:release)",
    ]
    assert lanes["shipping"] == []
    assert timeline.sagas == f"{SAGA_ID} compensated (steps done 1, 2; compensated 2, 1)"
    positions = [mark.left for lane in timeline.lanes for mark in lane.marks]
    assert min(positions) == 0.0 and max(positions) == 100.0  # the last refund ends the span


def test_a_hop_fault_of_another_saga_is_not_drawn() -> None:
    other = hop_hit().model_copy(update={"saga_id": "saga_other"})
    timeline = build_timeline(OP_ID, [], (), saga_views(saga_evidence()), ["payments"], [other])
    assert not [mark for lane in timeline.lanes for mark in lane.marks if mark.tone == "fault"]


def test_a_cells_timelines_come_from_its_folder_with_crashes_within_the_span(tmp_path: Path) -> None:
    result = saga_run(tmp_path)
    [cell] = result.verdict.cells
    drawn = cell_saga_timelines(cell, tmp_path / "cells" / f"{cell.variant}--{cell.fault}")
    [timeline] = drawn.timelines  # two checkers flagged the operation: one timeline, both named
    assert timeline.flagged_by == "Saga steps that took effect twice, Money not conserved"
    orchestrator = next(lane for lane in timeline.lanes if lane.service == "orchestrator")
    assert [mark.text for mark in orchestrator.marks] == [
        f"opened {SAGA_ID}",
        "crash (failpoint): exit status 77",
    ]
    assert drawn.not_drawn == 0


def test_the_limit_counts_the_operations_not_drawn(tmp_path: Path) -> None:
    result = saga_run(tmp_path)
    [cell] = result.verdict.cells
    drawn = cell_saga_timelines(cell, tmp_path / "cells" / f"{cell.variant}--{cell.fault}", limit=0)
    assert (drawn.timelines, drawn.not_drawn) == ((), 1)


def test_a_cell_without_saga_evidence_has_no_timelines(tmp_path: Path) -> None:
    result = saga_run(tmp_path)
    [cell] = result.verdict.cells
    assert cell_saga_timelines(cell, tmp_path / "elsewhere").timelines == ()


def test_every_saga_checker_kind_gets_timelines() -> None:
    assert {
        "half_done_saga",
        "repeated_saga_step",
        "money_not_conserved",
        "stock_not_conserved",
        "reservation_held",
    } <= saga_kinds()
    assert "duplicate_effect" not in saga_kinds()


def test_the_page_shows_the_saga_cells_lanes(tmp_path: Path) -> None:
    page = render_html(saga_run(tmp_path))
    assert "Broken sagas across the services" in page
    assert "hop fault drop_response_downstream: reset on /refund" in page
    assert 'class="dot-fault" style="left: ' in page


def test_a_page_without_saga_cells_has_no_lanes(shared_run_result: RunResult) -> None:
    assert "Broken sagas across the services" not in render_html(shared_run_result)
