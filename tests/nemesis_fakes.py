"""Stand-ins for the nemesis's proxy API and target, shared by its unit tests and the held-load tests."""

from __future__ import annotations

import threading
import time
from typing import Any

from harness.faults import FaultPlan, ToxicCall
from harness.load.config import ProgressLine
from harness.load.link import LoadLink
from harness.proxy.decisions import ToxicDecision
from harness.runtime.base import Endpoint


class FakeClient:
    """Records the Toxiproxy API calls the nemesis makes; ``decided`` is what the proxy would report."""

    url = "http://fake"

    def __init__(self, decided: tuple[ToxicDecision, ...] = ()) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.decided = decided

    def add_toxic(
        self,
        proxy: str,
        type: str,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.calls.append(("add", (proxy, name, type, toxicity)))

    def remove_toxic(self, proxy: str, name: str) -> None:
        self.calls.append(("remove", (proxy, name)))

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.calls.append(("enabled", (name, enabled)))

    def decisions(self, proxy: str) -> list[ToxicDecision]:
        self.calls.append(("decisions", proxy))
        return list(self.decided)


class FakeTarget:
    """A target whose death and restarts are plain flags; ``die_with`` mimics a failpoint exit."""

    endpoint = Endpoint("127.0.0.1", 1)

    def __init__(self) -> None:
        self.alive = True
        self.code: int | None = None
        self.kills = 0
        self.killed_at: list[float] = []
        self.restarts = 0
        self.restarted = threading.Event()

    def kill(self) -> None:
        self.kills += 1
        self.killed_at.append(time.time())
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


def load_running(link: LoadLink, in_flight: int, started_s_ago: float = 0.0) -> None:
    """Tell ``link`` what a driver's progress line would: the load began, ``in_flight`` attempts now."""
    line = ProgressLine(
        completed=0, total=1, started=1, first_op_at=time.time() - started_s_ago, attempts_in_flight=in_flight
    )
    link.observe(line)
