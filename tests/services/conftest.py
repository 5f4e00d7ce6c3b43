"""Shared real stores for the service tests: started once per session, checked gone at the end.

Starting Postgres, Redis and the sink takes about two seconds and RabbitMQ about five, so tests
share one ServiceSet per group and tell their data apart with their own cell ids. A store that is
not installed skips its tests on a developer's machine and fails them on CI (``CI=true``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.pidfiles import PidRegistry
from harness.proctable import snapshot, still_alive
from harness.services import ServiceSet, available_services


def require(*names: str) -> None:
    """Skip (or on CI fail) unless every named service can run here."""
    available = available_services()
    for name in names:
        why = available[name]
        if why is not None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{name} is needed on CI: {why}")
            pytest.skip(why)


def started(names: tuple[str, ...], folder: Path) -> Iterator[ServiceSet]:
    """A ServiceSet for a fixture; on teardown, proves every process is gone and deregistered."""
    require(*names)
    registry = PidRegistry(folder / "pids")
    services = ServiceSet.start(names, folder, registry)
    try:
        yield services
    finally:
        processes = snapshot(pid for pids in services.pids().values() for pid in pids)
        services.stop()
    assert len(processes) >= len(names)
    assert still_alive(processes) == []
    assert registry.pids() == []


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceSet]:
    yield from started(("postgres", "redis", "smtp"), tmp_path_factory.mktemp("stores"))


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceSet]:
    yield from started(("rabbitmq",), tmp_path_factory.mktemp("broker"))
