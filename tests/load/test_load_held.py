"""The load as the nemesis sees it: its op header, its live signal, held past its budget for crashes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from factories import load_cell
from nemesis_fakes import FakeClient, FakeTarget, plan

from harness.history import (
    AttemptEnd,
    AttemptStart,
    CrashEvent,
    CrashPlanEvent,
    Event,
    HistoryWriter,
    OpEnd,
    OpStart,
    iter_file,
    read_history,
)
from harness.load.config import Distribution, LoadCellConfig, run_driver, worker_histories
from harness.load.link import LoadLink
from harness.nemesis import Nemesis
from harness.opids import OP_HEADER

if TYPE_CHECKING:
    from conftest import Serving

BUDGET = 5


def cell(base_url: str, tmp_path: Path, **changes: object) -> LoadCellConfig:
    return load_cell(base_url, tmp_path, "nai-crash-", **{"operations": BUDGET, "users": 2, **changes})


def history(tmp_path: Path) -> list[Event]:
    return list(iter_file(tmp_path / "history.jsonl"))


def test_every_attempt_carries_its_op_id_in_the_op_header(tmp_path: Path, serving: Serving) -> None:
    with serving(lambda reference, attempt: "error" if attempt == 1 else "ok") as server:
        run_driver(cell(server.url, tmp_path), tmp_path / "load.json", lambda c, t: None, 60)
    received = server.received
    assert len(received) == 2 * BUDGET  # each op retried once: both attempts carry the header
    assert all(dict(request.headers)[OP_HEADER] == request.reference for request in received)


def test_a_held_load_runs_past_its_budget_until_released(tmp_path: Path, serving: Serving) -> None:
    link = LoadLink(holds=True)
    seen: list[int] = []

    def on_progress(completed: int, total: int) -> None:
        seen.append(total)
        if total >= 3 * BUDGET:
            link.release()

    with serving(lambda reference, attempt: "ok") as server:
        summary = run_driver(cell(server.url, tmp_path), tmp_path / "load.json", on_progress, 60, link=link)
    starts = [e for e in history(tmp_path) if isinstance(e, OpStart)]
    assert summary.stopped_by == "completed" and summary.completed == summary.total >= 3 * BUDGET
    assert len(starts) == summary.total and len(server.received) == summary.total
    assert link.ended and link.first_op_at is not None and link.first_op_at <= min(e.t for e in starts)


def test_a_distributed_load_is_held_by_its_master_and_signals_ops_in_flight(
    tmp_path: Path, serving: Serving
) -> None:
    link = LoadLink(holds=True)
    lines_in_flight: list[int] = []

    def on_progress(completed: int, total: int) -> None:
        lines_in_flight.append(link.in_flight)
        if total >= 3 * BUDGET:
            link.release()

    with serving(lambda reference, attempt: "ok") as server:
        config = cell(server.url, tmp_path)
        summary = run_driver(config, tmp_path / "load.json", on_progress, 60, Distribution(2), link=link)
    starts = [e for e in read_history(worker_histories(tmp_path)) if isinstance(e, OpStart)]
    assert summary.completed == summary.total == len(starts) >= 3 * BUDGET
    assert link.first_op_at is not None and any(lines_in_flight)


def test_a_held_load_never_released_ends_at_max_duration(tmp_path: Path, serving: Serving) -> None:
    link = LoadLink(holds=True)
    with serving(lambda reference, attempt: "ok") as server:
        config = cell(server.url, tmp_path, operations=1, max_duration_s=2.0)
        summary = run_driver(config, tmp_path / "load.json", lambda c, t: None, 60, link=link)
    # one op is the budget: a second one in two seconds, however slow the machine, shows the hold
    assert summary.stopped_by == "max_duration_s" and summary.total > 1


def test_a_crash_planned_after_the_load_would_end_still_happens_during_the_load(
    tmp_path: Path, serving: Serving
) -> None:
    """Five ops take a few ms; the kill is planned at 0.5 s, so the load is held until it is made."""
    target = FakeTarget()
    with serving(lambda reference, attempt: "ok") as server, HistoryWriter(tmp_path / "f.jsonl") as faults:
        with Nemesis(plan(kills=(0.5,)), FakeClient(), "p", target, faults) as nemesis:
            summary = run_driver(
                cell(server.url, tmp_path), tmp_path / "load.json", lambda c, t: None, 60, link=nemesis.load
            )
    events = read_history([tmp_path / "history.jsonl", tmp_path / "f.jsonl"])
    (crash,) = [e for e in events if isinstance(e, CrashEvent)]
    (crash_plan,) = [e for e in events if isinstance(e, CrashPlanEvent)]
    starts = [e for e in events if isinstance(e, AttemptStart)]
    ends = [e for e in events if isinstance(e, AttemptEnd)]
    assert (crash.reason, crash.planned_s, target.kills) == ("kill", 0.5, 1)
    assert (crash_plan.planned, crash_plan.made) == (1, 1)
    assert summary.total > BUDGET and summary.completed == summary.total
    assert crash_plan.load_started_t is not None and crash.t >= crash_plan.load_started_t + 0.5
    assert min(e.t for e in starts) < crash.t < max(e.t for e in ends)  # the load went on around the kill


def test_a_double_submit_marks_its_second_attempt_as_the_twin_of_the_first(
    tmp_path: Path, serving: Serving
) -> None:
    with serving(lambda reference, attempt: "ok") as server:
        config = cell(server.url, tmp_path, double_submit=1.0)
        run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)
    starts = [e for e in history(tmp_path) if isinstance(e, AttemptStart)]
    assert sorted((e.attempt, e.twin_of) for e in starts) == [(1, None)] * BUDGET + [(2, 1)] * BUDGET


def test_a_stopped_load_starts_no_more_operations_and_ends_those_in_flight(
    tmp_path: Path, serving: Serving
) -> None:
    """The orchestrator stops a cell whose gates are decided: the history stays complete."""
    link = LoadLink()

    def on_progress(completed: int, total: int) -> None:
        if completed >= BUDGET:
            link.stop()

    with serving(lambda reference, attempt: "ok") as server:
        config = cell(server.url, tmp_path, operations=100_000, max_duration_s=60.0)
        summary = run_driver(config, tmp_path / "load.json", on_progress, 120, link=link)
    events = history(tmp_path)
    started = {e.op_id for e in events if isinstance(e, OpStart)}
    ended = {e.op_id for e in events if isinstance(e, OpEnd)}
    assert summary.stopped_by == "decided" and summary.completed == summary.total == len(started)
    assert BUDGET <= summary.total < 100_000 and started == ended
