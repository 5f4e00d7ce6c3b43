"""One proxy: a listening socket in front of one upstream, its toxics, and its live connections."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from dataclasses import dataclass
from typing import Any

from harness.proxy.addresses import check_listen, join_hostport, split_hostport
from harness.proxy.apierror import ApiError
from harness.proxy.connection import Connection
from harness.proxy.decisions import DecisionLog
from harness.proxy.flow import ChainEntry
from harness.proxy.loops import dials_itself, reached_itself
from harness.proxy.request_log import REQUEST_LOG, REQUEST_LOG_NAME
from harness.proxy.side import Side
from harness.proxy.stub import Direction
from harness.proxy.toxics.base import Toxic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToxicEntry:
    """A toxic as the API shows it, with the instance the connections run.

    ``stream_as_sent`` is the caller's spelling (``"Upstream"``), which Toxiproxy answers with
    unchanged; ``stream`` is the direction it names.
    """

    name: str
    type: str
    stream: Direction
    toxicity: float
    toxic: Toxic[Any]
    stream_as_sent: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream_as_sent or self.stream,
            "toxicity": self.toxicity,
            "attributes": self.toxic.attrs.model_dump(),
        }

    @property
    def acts_on(self) -> Direction:
        return self.toxic.fixed_stream or self.stream


class Proxy:
    """Listens on ``listen`` and forwards each connection to ``upstream`` through the toxics."""

    def __init__(self, name: str, listen: str, upstream: str, allow_remote: bool) -> None:
        self.name = name
        self.bind_host, self.bind_port = check_listen(listen, allow_remote)
        self.listen = join_hostport(self.bind_host, self.bind_port)
        self.upstream = upstream
        self.enabled = False
        self.toxics: dict[str, ToxicEntry] = {}
        self.connections: set[Connection] = set()
        self.decisions = DecisionLog()
        """What its per-request toxics did, request by request (``GET /proxies/{name}/decisions``)."""
        self._server: asyncio.Server | None = None
        self.looped = False
        """Set when a connection reached this proxy's own listen address; new connections are closed
        until the upstream or listen address changes."""
        self._chains: dict[Direction, list[ChainEntry]] = {"upstream": [], "downstream": []}

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [entry.to_json() for entry in self.toxics.values()],
        }

    @property
    def upstream(self) -> str:
        return self._upstream

    @upstream.setter
    def upstream(self, value: str) -> None:
        """Parsed once, when set: a 400 now, and no parsing at every connection."""
        self.upstream_address = split_hostport(value, "upstream")
        self._upstream = value
        self.looped = False

    # -- listening ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen; a port in use is a 500, as Toxiproxy answers it."""
        if self.enabled:
            return
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._accept, self.bind_host, self.bind_port, backlog=1024
            )
        except OSError as exc:
            reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise ApiError(500, f"listen tcp {self.listen}: bind: {reason}") from None
        port = self._server.sockets[0].getsockname()[1]
        if dials_itself((self.bind_host, port), self.upstream_address):
            self._server.close()
            self._server = None
            raise self.loop_error(join_hostport(self.bind_host, port))
        self.bind_port = port
        self.listen = join_hostport(self.bind_host, port)
        self.looped = False
        self.enabled = True

    def loop_error(self, listen: str) -> ApiError:
        return ApiError(
            400,
            f"upstream {self.upstream} is this proxy's own listen address {listen}: "
            "every connection would loop back into the proxy",
        )

    def reached_itself(self, peer: tuple[str, int], local_host: str) -> bool:
        """Whether an upstream connection from ``local_host`` to ``peer`` came back to this proxy.

        The first one found marks the proxy ``looped``, so the loop ends here instead of opening
        connection after connection.
        """
        if not reached_itself((self.bind_host, self.bind_port), peer, local_host):
            return False
        if not self.looped:
            log.error(
                "proxy %s: %s; closing its connections", self.name, self.loop_error(self.listen).message
            )
        self.looped = True
        return True

    async def stop(self) -> None:
        """Stop listening and close every live connection (Toxiproxy's "down")."""
        server, self._server = self._server, None
        self.enabled = False
        if server is not None:
            server.close()
        for conn in list(self.connections):
            conn.close()
        if server is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 5)

    def _accept(self) -> Side:
        side = _ClientSide(self)
        return side

    def adopt(self, side: Side) -> None:
        conn = Connection(self, side)
        self.connections.add(conn)
        conn.start()

    def forget(self, conn: Connection) -> None:
        self.connections.discard(conn)

    # -- toxics ---------------------------------------------------------------------------------------

    def chain(self, direction: Direction) -> list[ChainEntry]:
        return self._chains[direction]

    async def set_toxics(self, toxics: dict[str, ToxicEntry]) -> None:
        """Replace the toxic set and apply it to every live connection before returning."""
        self.toxics = toxics
        chains: dict[Direction, list[ChainEntry]] = {"upstream": [], "downstream": []}
        for entry in toxics.values():
            chains[entry.acts_on].append(ChainEntry(entry.name, entry.toxic, entry.toxicity))
        if any(entry.toxic.needs_request_log and entry.acts_on == "downstream" for entry in toxics.values()):
            chains["upstream"].append(ChainEntry(REQUEST_LOG_NAME, REQUEST_LOG, 1.0))
        self._chains = chains
        conns = list(self.connections)
        if conns:
            await asyncio.gather(*(conn.apply_toxics() for conn in conns))


class _ClientSide(Side):
    """The accepted socket: it creates its Connection as soon as it exists."""

    def __init__(self, proxy: Proxy) -> None:
        super().__init__()
        self._proxy = proxy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._proxy.enabled or self._proxy.looped:
            transport.close()
            return
        self._proxy.adopt(self)
