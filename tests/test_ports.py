"""Starting a server on a free port: one retry rule for targets and stores alike."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import harness.ports
from harness.errors import PortRaceLost, ServicePortTakenError, TargetError, TargetPortTakenError
from harness.ports import PORT_ATTEMPTS, free_port, looks_like_port_race, on_free_port
from harness.runtime.base import Endpoint, launch_on_a_free_port
from harness.runtime.health import wait_healthy

BIND_FAILED = "OSError: [Errno 98] error while attempting to bind on address: address already in use"


class RaceLost(PortRaceLost):
    pass


def test_a_lost_race_is_tried_again_on_a_new_port() -> None:
    ports: list[int] = []

    def start(port: int) -> int:
        ports.append(port)
        if len(ports) < PORT_ATTEMPTS:
            raise RaceLost()
        return port

    assert on_free_port(start) == ports[-1]
    assert len(ports) == PORT_ATTEMPTS


def test_a_port_the_kernel_offers_again_is_not_handed_out_twice(monkeypatch: pytest.MonkeyPatch) -> None:
    offered = iter([41001, 41001, 41002])  # as when the first port's server has not bound it yet
    monkeypatch.setattr(harness.ports, "_handed_out", set())
    monkeypatch.setattr(harness.ports, "_unbound_port", lambda host: next(offered))

    assert [free_port(), free_port()] == [41001, 41002]


def test_threads_picking_ports_at_once_get_different_ones() -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        ports = list(pool.map(lambda _: free_port(), range(120)))

    assert len(set(ports)) == len(ports)


def test_the_last_lost_race_is_raised() -> None:
    calls: list[int] = []

    def start(port: int) -> int:
        calls.append(port)
        raise ServicePortTakenError("redis exited: address already in use")

    with pytest.raises(ServicePortTakenError):
        on_free_port(start)
    assert len(calls) == PORT_ATTEMPTS


@pytest.mark.parametrize(
    ("error", "port"), [(TargetError("bad config"), None), (TargetPortTakenError("taken"), 4321)]
)
def test_any_other_error_and_a_fixed_port_are_not_retried(error: Exception, port: int | None) -> None:
    calls: list[int] = []

    def start(chosen: int) -> int:
        calls.append(chosen)
        raise error

    with pytest.raises(type(error)):
        on_free_port(start, port=port)
    assert len(calls) == 1 and (port is None or calls == [port])


def test_port_race_is_read_from_a_servers_log() -> None:
    assert looks_like_port_race(BIND_FAILED)
    assert looks_like_port_race("listen EADDRINUSE: 127.0.0.1:80")
    assert not looks_like_port_race("ModuleNotFoundError: No module named 'fastapi'")


class FakeTarget:
    """Launches as told; remembers being stopped."""

    def __init__(self, endpoint: Endpoint, fails_with: Exception | None) -> None:
        self.endpoint = endpoint
        self.fails_with = fails_with
        self.stopped = False

    def launch(self) -> float:
        if self.fails_with is not None:
            raise self.fails_with
        return 0.0

    def stop(self) -> None:
        self.stopped = True


def test_a_half_started_target_is_stopped_before_the_next_port_is_tried() -> None:
    made: list[FakeTarget] = []

    def make(endpoint: Endpoint) -> FakeTarget:
        made.append(FakeTarget(endpoint, TargetPortTakenError("taken") if not made else None))
        return made[-1]

    started = launch_on_a_free_port(make)
    assert started is made[1] and not started.stopped
    assert made[0].stopped and made[0].endpoint.port != 0


def test_ctrl_c_while_launching_stops_the_target() -> None:
    made: list[FakeTarget] = []

    def make(endpoint: Endpoint) -> FakeTarget:
        made.append(FakeTarget(endpoint, KeyboardInterrupt()))
        return made[-1]

    with pytest.raises(KeyboardInterrupt):
        launch_on_a_free_port(make)
    assert [target.stopped for target in made] == [True]


class DeadTarget:
    endpoint = Endpoint("127.0.0.1", 9)

    def is_alive(self) -> bool:
        return False

    def exit_code(self) -> int | None:
        return 1


@pytest.mark.parametrize(("log", "error"), [(BIND_FAILED, TargetPortTakenError), ("Traceback", TargetError)])
def test_a_target_that_died_says_whether_it_lost_its_port(log: str, error: type[TargetError]) -> None:
    with pytest.raises(TargetError) as caught:
        wait_healthy(DeadTarget(), "http://127.0.0.1:9/health", 5, what="target", log_path=Path("t.log"),
                     give_up=lambda timed_out: log, serving_pids=list)  # fmt: skip
    assert type(caught.value) is error
    assert "exited with status 1" in str(caught.value) and log in str(caught.value)
