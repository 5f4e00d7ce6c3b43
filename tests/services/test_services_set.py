"""ServiceSet as a whole: fail fast when a store is missing, clean up on error and Ctrl-C."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from waiting import WAIT_S

from harness.errors import HarnessError
from harness.pidfiles import PidRegistry, command_line
from harness.proctable import snapshot, still_alive, wait_gone
from harness.runtime.base import Endpoint
from harness.services import BinaryLookup, ServiceError, ServiceSet, available_services
from harness.services.base import resource_name
from tests.services.conftest import require


def test_a_missing_binary_names_the_debian_package_and_starts_nothing(tmp_path: Path) -> None:
    empty = BinaryLookup(dirs=(tmp_path / "empty",))
    registry = PidRegistry(tmp_path / "pids")
    with pytest.raises(ServiceError) as raised:
        ServiceSet.start(["smtp", "postgres", "redis"], tmp_path, registry, lookup=empty)
    assert str(raised.value) == (
        "postgres: initdb not found: install the Debian package postgresql; "
        "redis: redis-server not found: install the Debian package redis-server"
    )
    assert isinstance(raised.value, HarnessError)
    assert not registry.folder.exists()
    assert not (tmp_path / "services").exists()


def test_available_services_says_why_each_cannot_run(tmp_path: Path) -> None:
    assert available_services(BinaryLookup(dirs=(tmp_path,))) == {
        "postgres": "initdb not found: install the Debian package postgresql",
        "redis": "redis-server not found: install the Debian package redis-server",
        "rabbitmq": "rabbitmq-server not found: install the Debian package rabbitmq-server",
        "smtp": None,
    }


def test_an_unknown_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        ServiceError, match=r"^unknown service 'mysql' \(known: postgres, rabbitmq, redis, smtp\)$"
    ):
        ServiceSet.start(["mysql"], tmp_path)


def test_no_services_still_give_the_namespace(tmp_path: Path) -> None:
    with ServiceSet.start([], tmp_path) as services:
        assert services.cell_env("naive--crash") == {"HARNESS_NAMESPACE": "naive--crash"}
        assert dict(services.endpoints) == {}
        with pytest.raises(ServiceError, match="smtp is not among target.services"):
            services.smtp_effects_url("naive--crash")
        with pytest.raises(ServiceError, match="address given for 'redis'"):
            services.cell_env("naive--crash", {"redis": Endpoint("127.0.0.1", 1)})


def test_cell_ids_become_safe_database_and_vhost_names() -> None:
    long_id = "idempotent--" + "very-long-fault-name-" * 4
    assert resource_name("naive--dropped-responses") == "cell_naive_dropped_responses"
    assert resource_name("Idempotent--Latency 2") == "cell_idempotent_latency_2"
    assert len(resource_name(long_id)) == 63
    assert resource_name(long_id) != resource_name(long_id + "x")
    assert resource_name(long_id)[-9:-8] == "_"


def test_ctrl_c_while_starting_ends_what_was_already_started(tmp_path: Path) -> None:
    require("postgres", "redis")
    registry = PidRegistry(tmp_path / "pids")
    running: dict[int, int] = {}

    def interrupt_once_postgres_runs(message: str) -> None:
        if message == "starting redis":
            running.update(snapshot(registry_pids(registry)))
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ServiceSet.start(["postgres", "redis"], tmp_path, registry, progress=interrupt_once_postgres_runs)
    assert len(running) == 1  # the postmaster, registered while it ran
    assert still_alive(running) == []
    assert registry.pids() == []


def registry_pids(registry: PidRegistry) -> list[int]:
    return registry.pids()


def test_startup_times_are_reported_per_service(stores: ServiceSet) -> None:
    assert sorted(stores.startup_s) == ["postgres", "redis", "smtp"]
    assert all(0 < seconds < 300 for seconds in stores.startup_s.values())  # seconds, not milliseconds
    assert {name: endpoint.host for name, endpoint in stores.endpoints.items()} == {
        "postgres": "127.0.0.1",
        "redis": "127.0.0.1",
        "smtp": "127.0.0.1",
    }


def test_an_optional_service_that_is_missing_is_left_out(tmp_path: Path) -> None:
    empty = BinaryLookup(dirs=(tmp_path / "empty",))
    said: list[str] = []
    with ServiceSet.start(
        ["rabbitmq"], tmp_path, progress=said.append, lookup=empty, optional=["rabbitmq"]
    ) as services:
        env = services.cell_env("consumer--crash")
    why = "rabbitmq-server not found: install the Debian package rabbitmq-server"
    assert env == {"HARNESS_NAMESPACE": "consumer--crash"}  # no HARNESS_AMQP_URL: the embedded queue
    assert dict(services.left_out) == {"rabbitmq": why}
    assert said == [f"rabbitmq left out: {why}"]


def test_the_registry_holds_what_proc_shows_so_clean_can_end_a_left_server(tmp_path: Path) -> None:
    require("redis")
    registry = PidRegistry(tmp_path / "pids")
    services = ServiceSet.start(["redis"], tmp_path, registry)
    try:
        [pid] = services.pids()["redis"]
        recorded = json.loads((registry.folder / f"{pid}.json").read_text())["command"]
        shown = command_line(pid)
        running = snapshot([pid])
        ended = registry.clean()  # what `harness clean` does after a harness was killed
        gone = wait_gone(running, timeout_s=WAIT_S) == []
    finally:
        services.stop()
    binary = BinaryLookup().find("redis-server", "redis-server")
    assert recorded == shown == [f"{binary} 127.0.0.1:{services.endpoints['redis'].port}"]
    assert (ended, gone) == ([pid], True)
