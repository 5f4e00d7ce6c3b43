"""The SMTP sink as a run service: started as a child process, listing effects per cell namespace.

Cells share one sink; the target stamps each message with its ``HARNESS_NAMESPACE`` in the
``X-Harness-Namespace`` header, and ``effects_url`` lists only that namespace's messages.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from urllib.parse import quote

from harness.ports import LOOPBACK, free_port, on_free_port
from harness.runtime.base import Endpoint
from harness.runtime.health import is_healthy
from harness.services.base import ServiceContext, ServiceKind, start_or_clean_up
from harness.services.binaries import BinaryLookup
from harness.services.process import ServerProcess

NAME = "smtp"
START_TIMEOUT_S = 15.0


def missing(lookup: BinaryLookup) -> str | None:
    """Always usable: the sink is this package run with this interpreter."""
    return None


class SmtpSinkService:
    """One sink process: SMTP on ``endpoint``, its HTTP listing on ``http_endpoint``."""

    name = NAME

    def __init__(self, context: ServiceContext) -> None:
        self._context = context
        self._server: ServerProcess | None = None
        self.endpoint = Endpoint(LOOPBACK, 0)
        self.http_endpoint = Endpoint(LOOPBACK, 0)

    def start(self) -> None:
        on_free_port(self._launch)

    def _launch(self, smtp_port: int) -> float:
        http_port = free_port()
        server = ServerProcess(
            NAME,
            [
                sys.executable,
                "-m",
                "harness.services.smtp_sink",
                "--host",
                LOOPBACK,
                "--smtp-port",
                str(smtp_port),
                "--http-port",
                str(http_port),
                "--store",
                str(self._context.folder / "messages.jsonl"),
            ],
            log_path=self._context.folder / "smtp.log",
            registry=self._context.registry,
        )
        self._server = server
        self.endpoint = Endpoint(LOOPBACK, smtp_port)
        self.http_endpoint = Endpoint(LOOPBACK, http_port)
        server.launch()
        health_url = f"{self.http_endpoint.base_url}/health"
        return server.wait_ready(
            lambda: is_healthy(health_url), START_TIMEOUT_S, serves=[self.endpoint, self.http_endpoint]
        )

    def effects_url(self, cell_id: str) -> str:
        return f"{self.http_endpoint.base_url}/effects?namespace={quote(cell_id, safe='')}"

    def prepare(self, cell_ids: Sequence[str]) -> None:
        """Nothing to make: cells share the server and are told apart by their namespace."""

    def cell_env(self, cell_id: str, address: Endpoint) -> dict[str, str]:
        return {"HARNESS_SMTP_HOST": address.host, "HARNESS_SMTP_PORT": str(address.port)}

    def pids(self) -> list[int]:
        return [] if self._server is None else self._server.pids()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


def start(context: ServiceContext) -> SmtpSinkService:
    return start_or_clean_up(SmtpSinkService(context))


KIND = ServiceKind(NAME, missing, start)
