"""A real Redis server from the Debian package, one per run; cells are told apart by key prefix.

Targets use it for ``SET NX`` in-flight locks, stored responses and TTLs. The append-only file is
fsynced on every write (``appendfsync always``) and snapshots are off, so a crashed-and-restarted
target finds exactly what Redis acknowledged: durable enough for crash tests.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import redis

from harness.errors import ServiceError
from harness.ports import LOOPBACK, on_free_port
from harness.runtime.base import Endpoint
from harness.services.base import ServiceContext, ServiceKind, start_or_clean_up
from harness.services.binaries import BinaryLookup, MissingBinary
from harness.services.process import ServerProcess

NAME = "redis"
PACKAGE = "redis-server"
START_TIMEOUT_S = 15.0


def missing(lookup: BinaryLookup) -> str | None:
    return lookup.missing(("redis-server",), PACKAGE)


class RedisService:
    """One redis-server on a loopback port; a cell gets the URL and its own key prefix."""

    name = NAME

    def __init__(self, context: ServiceContext) -> None:
        try:
            self._binary = context.lookup.find("redis-server", PACKAGE)
        except MissingBinary as error:
            raise ServiceError(str(error)) from None
        self._context = context
        self._data = context.folder / "data"
        self._server: ServerProcess | None = None
        self.endpoint = Endpoint(LOOPBACK, 0)

    def start(self) -> None:
        self._data.mkdir(parents=True, exist_ok=True)
        on_free_port(self._launch)

    def _launch(self, port: int) -> float:
        server = ServerProcess(
            NAME,
            [
                str(self._binary),
                "--port",
                str(port),
                "--bind",
                LOOPBACK,
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self._data),
                "--daemonize",
                "no",
                "--logfile",
                "",
            ],
            log_path=self._context.folder / "redis.log",
            registry=self._context.registry,
        )
        self._server = server
        self.endpoint = Endpoint(LOOPBACK, port)
        server.launch()
        return server.wait_ready(self._answers_ping, START_TIMEOUT_S, serves=[self.endpoint])

    def _answers_ping(self) -> bool:
        client = redis.Redis(host=self.endpoint.host, port=self.endpoint.port, socket_timeout=1)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def prepare(self, cell_ids: Sequence[str]) -> None:
        """Nothing to make: cells share the server and are told apart by their namespace."""

    def cell_env(self, cell_id: str, address: Endpoint) -> dict[str, str]:
        return {
            "HARNESS_REDIS_URL": f"redis://{address.host}:{address.port}/0",
            "HARNESS_REDIS_PREFIX": f"{cell_id}:",
        }

    def pids(self) -> list[int]:
        return [] if self._server is None else self._server.pids()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        shutil.rmtree(self._data, ignore_errors=True)


def start(context: ServiceContext) -> RedisService:
    return start_or_clean_up(RedisService(context))


KIND = ServiceKind(NAME, missing, start)
