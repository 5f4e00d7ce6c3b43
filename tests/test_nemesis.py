"""The nemesis applies a plan and writes every fault, crash and restart to the history."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from harness.errors import TargetError
from harness.faults import FaultPlan, ToxicCall
from harness.history import CrashEvent, FaultEvent, HistoryWriter, RestartEvent, read_history
from harness.nemesis import Nemesis
from harness.runtime.base import Endpoint


class FakeClient:
    """Records the Toxiproxy API calls the nemesis makes."""

    url = "http://fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def add_toxic(self, proxy: str, **toxic: Any) -> None:
        self.calls.append(("add", (proxy, toxic["name"], toxic["type"], toxic["toxicity"])))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self.calls.append(("remove", (proxy, name)))

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append(("enabled", (name, enabled)))


class FakeTarget:
    """A target whose death and restarts are plain flags; ``die_with`` mimics a failpoint exit."""

    endpoint = Endpoint("127.0.0.1", 1)

    def __init__(self) -> None:
        self.alive = True
        self.code: int | None = None
        self.kills = 0
        self.restarts = 0
        self.restarted = threading.Event()

    def kill(self) -> None:
        self.kills += 1
        self.alive, self.code = False, -9

    def restart(self) -> float:
        self.restarts += 1
        self.alive, self.code = True, None
        self.restarted.set()
        return 0.25

    def is_alive(self) -> bool:
        return self.alive

    def exit_code(self) -> int | None:
        return self.code

    def stop(self) -> None:
        self.alive = False

    def die_with(self, code: int) -> None:
        self.alive, self.code = False, code


def plan(kills: tuple[float, ...] = (), toxics: tuple[ToxicCall, ...] = ()) -> FaultPlan:
    return FaultPlan(fault="f", seed=1, toxics=toxics, kill_times_s=kills, target_env={})


def test_toxics_switched_on_and_off_around_the_load(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    toxic = ToxicCall(name="drop", type="drop_response", stream="downstream", toxicity=0.5)
    with HistoryWriter(tmp_path / "f.jsonl") as history:
        with Nemesis(plan(toxics=(toxic,)), client, "p", target, history):
            assert client.calls == [("add", ("p", "drop", "drop_response", 0.5))]
        assert client.calls[-1] == ("remove", ("p", "drop"))
    events = read_history([tmp_path / "f.jsonl"])
    switches = [(e.name, e.action) for e in events if isinstance(e, FaultEvent)]
    assert switches == [("drop", "on"), ("drop", "off")]


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
            assert target.restarted.wait(5)
        assert nemesis.crashes == 1
    events = read_history([tmp_path / "f.jsonl"])
    kinds = [type(e) for e in events]
    assert kinds == [CrashEvent, RestartEvent]
    crash = events[0]
    assert isinstance(crash, CrashEvent) and crash.reason == "kill"
    assert target.kills == 1 and target.restarts == 1
    assert client.calls == [("enabled", ("p", False)), ("enabled", ("p", True))]


def test_failpoint_exit_is_noticed_and_restarted(tmp_path: Path) -> None:
    client, target = FakeClient(), FakeTarget()
    with HistoryWriter(tmp_path / "f.jsonl") as history, Nemesis(plan(), client, "p", target, history):
        target.die_with(17)
        assert target.restarted.wait(5)
    events = read_history([tmp_path / "f.jsonl"])
    crash = events[0]
    assert isinstance(crash, CrashEvent) and crash.reason == "failpoint"
    assert crash.detail == "exit status 17"
    assert isinstance(events[1], RestartEvent) and events[1].downtime_s == 0.25


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
        with Nemesis(plan(kills=(0.01,)), client, "p", target, history):
            time.sleep(0.3)


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
            assert target.restarted.wait(5)
    assert nemesis.crashes == 3 and target.restarts == 3
    events = read_history([tmp_path / "f.jsonl"])
    assert [type(e).__name__ for e in events] == ["CrashEvent", "CrashEvent", "CrashEvent", "RestartEvent"]
