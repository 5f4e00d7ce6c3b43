"""What every store service shares: the Service protocol and how a kind is described.

A service is one real server (Postgres, Redis, RabbitMQ, the SMTP sink) that the harness starts
once per run on a loopback port it chose, and that hands each run cell its own isolated resources.
Each kind lives in its own module and is described by a :class:`ServiceKind`; ``ServiceSet``
composes them and never needs to know which kinds exist.
Their one error, ``ServiceError``, lives with every other user-facing error in ``harness.errors``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import sha1
from pathlib import Path
from typing import Protocol, TypeVar

from harness.pidfiles import PidRegistry
from harness.runtime.base import Endpoint
from harness.services.binaries import BinaryLookup

MAX_RESOURCE_NAME = 63  # Postgres identifiers; RabbitMQ vhosts allow more, but one rule is simpler


class Service(Protocol):
    """One running store server shared by every cell of a run."""

    name: str
    endpoint: Endpoint

    def prepare(self, cell_ids: Sequence[str]) -> None:
        """Make the isolated resources of the cells not prepared yet (a database, a vhost)."""

    def cell_env(self, cell_id: str, address: Endpoint) -> dict[str, str]:
        """Prepare the cell if needed; the env that points a target at its resources via ``address``."""

    def pids(self) -> list[int]:
        """The pids of the server's processes, so callers can prove they are gone after ``stop``."""

    def stop(self) -> None:
        """End every process by pid and remove temporary data. Safe to call twice."""


@dataclass(frozen=True)
class ServiceContext:
    """What a kind needs to start its server: a folder of its own, the pid registry, the binaries."""

    folder: Path
    registry: PidRegistry | None
    lookup: BinaryLookup


@dataclass(frozen=True)
class ServiceKind:
    """A service module's entry: ``missing`` says why it cannot run (or None), ``start`` starts it."""

    name: str
    missing: Callable[[BinaryLookup], str | None]
    start: Callable[[ServiceContext], Service]


def resource_name(cell_id: str) -> str:
    """A database / vhost name for a cell: lowercase letters, digits and underscores, at most 63.

    Cell ids hold dashes (``naive--dropped-responses``), which Postgres would need quoted; a long id
    is cut and given a hash suffix so two long ids never collide.
    """
    name = "cell_" + re.sub(r"[^a-z0-9]+", "_", cell_id.lower()).strip("_")
    if len(name) > MAX_RESOURCE_NAME:
        digest = sha1(cell_id.encode()).hexdigest()[:8]
        name = f"{name[: MAX_RESOURCE_NAME - 9]}_{digest}"
    return name


class _Startable(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


StartableT = TypeVar("StartableT", bound=_Startable)


def start_or_clean_up(service: StartableT) -> StartableT:
    """Start a service; if starting fails or is interrupted, release what it already holds."""
    try:
        service.start()
    except BaseException:
        service.stop()
        raise
    return service
