"""A Prometheus registry served on ``127.0.0.1:PORT/metrics`` from a daemon thread.

``harness run --metrics-port`` and ``harness watch --metrics-port`` serve their series this one way:
prometheus_client's own HTTP server, on loopback only (house rule), and when closed its socket closed
at once (the port is free again) and its thread waited for. Each command says in its own words why a
port could not be bound; this module only raises the ``OSError``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server

from harness.ports import LOOPBACK

_JOIN_TIMEOUT_S = 5.0
"""The serving thread ends as soon as it is shut down; a bound, not a wait."""


class RegistryEndpoint:
    """``registry`` on ``127.0.0.1:port/metrics`` from the moment it is made until :meth:`close`."""

    def __init__(self, port: int, registry: CollectorRegistry) -> None:
        self.port = port
        self._server, self._thread = start_http_server(port, addr=LOOPBACK, registry=registry)
        self._closed = False

    def close(self) -> None:
        """Stop serving and free the port; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=_JOIN_TIMEOUT_S)
