"""The stores one run needs, started once, shared by its cells, each cell isolated in them.

A run names its services in the scenario (``target.services``); ``ServiceSet.start`` checks every
one is installed before starting any (so a missing package fails in a second, not after RabbitMQ's
boot), starts them on loopback ports it chose, and ends them all by pid on ``stop``, on error and
on Ctrl-C. ``cell_env`` gives one cell (variant × fault) its own database, key prefix, vhost and
mail namespace, and returns the environment that points a target at them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType

from harness.errors import ServiceError
from harness.pidfiles import PidRegistry
from harness.runtime.base import Endpoint
from harness.services import postgres, rabbitmq, redis, smtp
from harness.services.base import Service, ServiceContext, ServiceKind
from harness.services.binaries import BinaryLookup

KINDS: Mapping[str, ServiceKind] = {
    kind.name: kind for kind in (postgres.KIND, redis.KIND, rabbitmq.KIND, smtp.KIND)
}
NAMESPACE_VARIABLE = "HARNESS_NAMESPACE"


def available_services(lookup: BinaryLookup | None = None) -> dict[str, str | None]:
    """Every known service → None if it can run here, else why not (which package is missing)."""
    lookup = lookup or BinaryLookup()
    return {name: kind.missing(lookup) for name, kind in KINDS.items()}


class ServiceSet:
    """Running services by name; a context manager that stops them all on exit."""

    def __init__(
        self,
        services: Mapping[str, Service],
        startup_s: Mapping[str, float],
        left_out: Mapping[str, str] | None = None,
    ) -> None:
        self._services = dict(services)
        self.left_out: Mapping[str, str] = MappingProxyType(dict(left_out or {}))
        self.endpoints: Mapping[str, Endpoint] = MappingProxyType(
            {name: service.endpoint for name, service in services.items()}
        )
        self.startup_s: Mapping[str, float] = MappingProxyType(dict(startup_s))

    @classmethod
    def start(
        cls,
        names: Iterable[str],
        run_dir: Path,
        registry: PidRegistry | None = None,
        progress: Callable[[str], None] | None = None,
        lookup: BinaryLookup | None = None,
        optional: Iterable[str] = (),
    ) -> ServiceSet:
        """Start each named service once (in the order given), or raise ServiceError having started none.

        A service named in ``optional`` that is not installed is left out instead (``left_out``
        says why): a target told nothing about it falls back to its embedded stand-in (the
        consumer's in-process queue where no RabbitMQ broker is installed).
        """
        wanted = list(dict.fromkeys(names))
        lookup = lookup or BinaryLookup()
        unknown = [name for name in wanted if name not in KINDS]
        if unknown:
            raise ServiceError(f"unknown service {unknown[0]!r} (known: {', '.join(sorted(KINDS))})")
        missing = {name: why for name in wanted if (why := KINDS[name].missing(lookup)) is not None}
        left_out = {name: why for name, why in missing.items() if name in set(optional)}
        problems = [f"{name}: {why}" for name, why in missing.items() if name not in left_out]
        if problems:
            raise ServiceError("; ".join(problems))
        wanted = [name for name in wanted if name not in left_out]
        say = progress or (lambda _message: None)
        for name, why in left_out.items():
            say(f"{name} left out: {why}")
        services: dict[str, Service] = {}
        startup_s: dict[str, float] = {}
        try:
            for name in wanted:
                say(f"starting {name}")
                began = time.monotonic()
                context = ServiceContext(run_dir / "services" / name, registry, lookup)
                services[name] = KINDS[name].start(context)
                startup_s[name] = time.monotonic() - began
                say(f"{name} ready on {services[name].endpoint.hostport} in {startup_s[name]:.1f} s")
        except BaseException:
            for service in reversed(services.values()):
                service.stop()
            raise
        return cls(services, startup_s, left_out)

    def __enter__(self) -> ServiceSet:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def prepare(self, cell_ids: Iterable[str]) -> None:
        """Make every cell's resources up front, in as few calls as each store allows.

        Optional (``cell_env`` prepares a cell it has not seen), but RabbitMQ's command line costs
        about a second per call, so a run with many cells should call this once before the first.
        """
        wanted = list(dict.fromkeys(cell_ids))
        for service in self._services.values():
            service.prepare(wanted)

    def cell_env(self, cell_id: str, addresses: Mapping[str, Endpoint] | None = None) -> dict[str, str]:
        """Make the cell's isolated resources (once per cell id) and return the target's environment.

        ``addresses`` replaces a service's host:port in what the target is told (a latency proxy in
        front of a store); credentials and resource names stay the same.
        """
        overrides = dict(addresses or {})
        strangers = sorted(set(overrides) - set(self._services))
        if strangers:
            raise ServiceError(f"address given for {strangers[0]!r}, which is not among this run's services")
        env = {NAMESPACE_VARIABLE: cell_id}
        for name, service in self._services.items():
            env.update(service.cell_env(cell_id, overrides.get(name, service.endpoint)))
        return env

    def smtp_effects_url(self, cell_id: str) -> str:
        """The sink's HTTP listing of the messages one cell's target sent."""
        sink = self._services.get(smtp.NAME)
        if not isinstance(sink, smtp.SmtpSinkService):
            raise ServiceError("effects.source is smtp but smtp is not among target.services")
        return sink.effects_url(cell_id)

    def pids(self) -> dict[str, list[int]]:
        """Every live process of every service, by service name."""
        return {name: service.pids() for name, service in self._services.items()}

    def stop(self) -> None:
        """End every service (last started first) by pid and remove temporary data; safe twice."""
        for service in reversed(list(self._services.values())):
            service.stop()
