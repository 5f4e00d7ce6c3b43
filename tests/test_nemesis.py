"""The nemesis applies a plan and writes every fault, crash and restart to the history."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from nemesis_fakes import FakeClient, FakeTarget, load_running, plan
from waiting import WAIT_S, wait_until

from harness.errors import TargetError
from harness.faults import FaultPlan, ToxicCall
from harness.history import (
    CrashEvent,
    CrashPlanEvent,
    FaultEvent,
    HistoryWriter,
    RestartEvent,
    ToxicHit,
    read_history,
)
from harness.nemesis import Nemesis
from harness.proxy.decisions import ToxicDecision


def test_toxics_switched_on_and_off_around_the_load(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    toxic = ToxicCall(name="drop", type="latency", stream="downstream", toxicity=0.5)
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(toxics=(toxic,)), client, "p", target, history):
            assert client.calls == [("add", ("p", "drop", "latency", 0.5))]
        assert client.calls[-1] == ("remove", ("p", "drop"))  # a TCP toxic: no decisions to ask for
    events = read_history([tmp_path / "f.jsonl"])
    switches = [(e.name, e.action) for e in events if isinstance(e, FaultEvent)]
    assert switches == [("drop", "on"), ("drop", "off")]


def test_the_proxys_per_request_decisions_go_into_the_history_with_their_ops(tmp_path: Path) -> None:
    decided = (
        ToxicDecision(10.5, "drop", "nai-drop-1a2b3c4d-000003", "reset"),
        ToxicDecision(10.7, "drop", None, "reset"),
    )
    client, target = FakeClient(decided), FakeTarget()
    toxic = ToxicCall(name="drop", type="drop_response", stream="downstream", toxicity=0.5)
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(toxics=(toxic,)), client, "p", target, history):
            pass
    assert ("decisions", "p") in client.calls
    hits = [e for e in read_history([tmp_path / "f.jsonl"]) if isinstance(e, ToxicHit)]
    assert [(h.t, h.proxy, h.toxic, h.op_id, h.action) for h in hits] == [
        (10.5, "p", "drop", "nai-drop-1a2b3c4d-000003", "reset"),
        (10.7, "p", "drop", None, "reset"),
    ]


def test_store_latency_goes_on_the_stores_proxy_for_the_load_and_comes_off_after(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    store_plan = FaultPlan(
        fault="slow-db", seed=1, toxics=(), kill_times_s=(), target_env={}, store_latency_ms=80
    )
    latency = store_plan.store_latency_toxic("postgres")
    assert (latency.type, latency.stream, latency.toxicity, latency.attributes) == (
        "latency",
        "downstream",
        1.0,
        {"latency": 80},
    )
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(store_plan, client, "p", target, history, [("p--postgres", latency)]):
            assert client.calls == [("add", ("p--postgres", "postgres_latency", "latency", 1.0))]
        assert client.calls[-1] == ("remove", ("p--postgres", "postgres_latency"))
    events = read_history([tmp_path / "f.jsonl"])
    switches = [(e.name, e.action, e.detail) for e in events if isinstance(e, FaultEvent)]
    assert switches == [("postgres_latency", "on", "latency=80"), ("postgres_latency", "off", "")]


def test_scheduled_kill_is_followed_by_restart(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(kills=(0.05,)), client, "p", target, history) as nemesis:
            load_running(nemesis.load, in_flight=2)
            assert target.restarted.wait(WAIT_S)
        assert nemesis.crashes == 1
    events = read_history([tmp_path / "f.jsonl"])
    kinds = [type(e) for e in events]
    assert kinds == [CrashEvent, RestartEvent, CrashPlanEvent]
    crash, _, crash_plan = events
    assert isinstance(crash, CrashEvent) and crash.reason == "kill" and crash.planned_s == 0.05
    assert crash.t <= target.killed_at[0]  # when the kill was issued, not when it was noticed
    assert isinstance(crash_plan, CrashPlanEvent)
    assert (crash_plan.planned, crash_plan.made, crash_plan.detail) == (1, 1, "")
    assert crash_plan.load_started_t is not None and crash_plan.load_started_t < crash.t
    assert target.kills == 1 and target.restarts == 1
    assert client.calls == [("enabled", ("p", False)), ("enabled", ("p", True))]


def test_the_schedule_starts_at_the_loads_first_operation_not_at_the_nemesis(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(kills=(10.2,)), client, "p", target, history) as nemesis:
            assert not nemesis.load.released  # held: the load must run on until the kill is made
            load_running(nemesis.load, in_flight=1, started_s_ago=10.0)  # the driver started long ago
            first_op_at = nemesis.load.first_op_at
            assert target.restarted.wait(WAIT_S)  # 10.2 s after the first op: 0.2 s from now
            wait_until(lambda: nemesis.load.released, "the load to be released")
    assert first_op_at is not None and target.killed_at[0] >= first_op_at + 10.2


def test_a_kill_is_not_issued_with_nothing_in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.nemesis.KILL_WAIT_FOR_FLIGHT_S", 0.2)
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(kills=(0.05, 0.1)), client, "p", target, history) as nemesis:
            load_running(nemesis.load, in_flight=0)
            wait_until(lambda: nemesis.load.released, "both kills to be given up and the load released")
    assert target.kills == 0
    (crash_plan,) = read_history([tmp_path / "f.jsonl"])
    assert isinstance(crash_plan, CrashPlanEvent) and (crash_plan.planned, crash_plan.made) == (2, 0)
    assert crash_plan.detail.split("; ") == [
        "kill at 0.05 s not made: nothing in flight for 0.2 s",
        "kill at 0.1 s not made: nothing in flight for 0.2 s",
    ]


def test_kills_the_load_never_reached_are_planned_but_not_made(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(kills=(30.0,)), client, "p", target, history) as nemesis:
            load_running(nemesis.load, in_flight=3)
            nemesis.load.end()
            wait_until(lambda: nemesis.load.released, "the load to be released")
    assert target.kills == 0
    (crash_plan,) = read_history([tmp_path / "f.jsonl"])
    assert isinstance(crash_plan, CrashPlanEvent) and (crash_plan.planned, crash_plan.made) == (1, 0)
    assert crash_plan.detail == "kill at 30 s not made: the load ended first"


def test_no_load_no_kill(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(kills=(0.0,)), client, "p", target, history):
            pass  # the load never started: the schedule's clock never ran
    assert target.kills == 0
    (crash_plan,) = read_history([tmp_path / "f.jsonl"])
    assert isinstance(crash_plan, CrashPlanEvent) and crash_plan.load_started_t is None
    assert (crash_plan.planned, crash_plan.made) == (1, 0)


def test_failpoint_exit_is_noticed_and_restarted(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history, Nemesis(plan(), client, "p", target, history):
        target.die_with(17)
        assert target.restarted.wait(WAIT_S)
    events = read_history([tmp_path / "f.jsonl"])
    crash = events[0]
    assert isinstance(crash, CrashEvent) and crash.reason == "failpoint"
    assert crash.detail == "exit status 17"
    assert isinstance(events[1], RestartEvent) and events[1].downtime_s == 0.25


def test_a_participant_is_restarted_behind_its_own_hop_closed_not_the_loads_proxy(tmp_path: Path) -> None:
    client, participant = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(), client, "p", participant, history, restart_proxy="p--hop-payments"):
            participant.die_with(17)
            assert participant.restarted.wait(WAIT_S)
    assert client.calls == [("enabled", ("p--hop-payments", False)), ("enabled", ("p--hop-payments", True))]


def test_target_dead_at_the_end_is_restarted_for_the_probe(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        nemesis = Nemesis(plan(), client, "p", target, history)
        nemesis._stop.set()  # no watcher: only the exit path may notice the death
        with nemesis:
            target.die_with(1)
    assert target.alive and target.restarts == 1
    events = read_history([tmp_path / "f.jsonl"])
    assert isinstance(events[0], CrashEvent) and events[0].reason == "unexpected"


def test_failed_restart_is_raised_after_the_load(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()

    def broken_restart() -> float:
        raise RuntimeError("port taken")

    target.restart = broken_restart  # type: ignore[method-assign]
    with HistoryWriter(tmp_path / "f.jsonl") as history, pytest.raises(RuntimeError, match="port taken"):
        with Nemesis(plan(kills=(0.01,)), client, "p", target, history) as nemesis:
            load_running(nemesis.load, in_flight=1)
            # a nemesis that cannot go on lets the load end: it records the error, then releases
            wait_until(lambda: nemesis.restart_error is not None and nemesis.load.released,
                       "the failed restart to release the load")


def test_failpoint_firing_while_restarting_counts_as_another_crash(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    outcomes = iter([17, 17, None])  # dies twice on its backlog before it comes up healthy

    def flaky_restart() -> float:
        code = next(outcomes)
        target.restarts += 1
        if code is not None:
            target.alive, target.code = False, code
            raise TargetError("target exited with status 17 before it was healthy")
        target.alive, target.code = True, None
        target.restarted.set()
        return 0.1

    target.restart = flaky_restart  # type: ignore[method-assign]
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(), client, "p", target, history) as nemesis:
            target.die_with(17)
            assert target.restarted.wait(WAIT_S)
    assert nemesis.crashes == 3 and target.restarts == 3
    events = read_history([tmp_path / "f.jsonl"])
    assert [type(e).__name__ for e in events] == ["CrashEvent", "CrashEvent", "CrashEvent", "RestartEvent"]


class SlowToRestart(FakeTarget):
    """A target whose restart waits on its health check until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.restarting = threading.Event()
        self.healthy = threading.Event()

    def restart(self) -> float:
        self.restarting.set()
        self.healthy.wait(WAIT_S)
        return super().restart()


def test_an_interrupted_cell_does_not_wait_for_a_restart_in_progress(tmp_path: Path) -> None:
    target = SlowToRestart()
    try:
        with HistoryWriter(tmp_path / "f.jsonl") as history, pytest.raises(KeyboardInterrupt):
            with Nemesis(plan(kills=(0.0,)), FakeClient(), "p", target, history) as nemesis:
                load_running(nemesis.load, in_flight=1)
                assert target.restarting.wait(WAIT_S), "the kill and its restart never began"
                raise KeyboardInterrupt  # Ctrl-C while the target is on its way back up
        assert not target.healthy.is_set() and target.restarts == 0  # teardown went on without it
    finally:
        target.healthy.set()  # let the nemesis's thread end
