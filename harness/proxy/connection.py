"""One proxied TCP connection: the client's socket, the upstream's, and a flow each way.

It is also the per-connection context every toxic stub sees (``ConnectionContext``): the request
heads the downstream framers need, per-toxic state, the ways to end the connection, and where the
toxics' per-request decisions go (the proxy's decision log).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
from typing import TYPE_CHECKING

from harness.proxy.decisions import ToxicDecision
from harness.proxy.flow import ChainEntry, Flow
from harness.proxy.http1 import MessageHead
from harness.proxy.side import Side
from harness.proxy.stub import Direction

if TYPE_CHECKING:
    from harness.proxy.proxy import Proxy

log = logging.getLogger(__name__)

_CONNECT_TIMEOUT_S = 10.0
_ids = itertools.count(1)


class Connection:
    """A client connection and its upstream connection, joined by two flows."""

    def __init__(self, proxy: Proxy, client: Side) -> None:
        self.conn_id = next(_ids)
        self.proxy = proxy
        self.client = client
        self.upstream = Side()
        client.conn = self
        self.upstream.conn = self
        client.sink = self._early_data
        self.upstream.sink = self._first_downstream_data
        self.up = Flow(self, "upstream", source=client, dest=self.upstream)
        self.down = Flow(self, "downstream", source=self.upstream, dest=client)
        self.closed = False
        self.forwarded_requests: list[MessageHead] = []
        self.downstream_started = False
        self.tunnel = False
        self._state: dict[str, dict[str, object]] = {}
        self._rolls: dict[str, tuple[object, bool]] = {}
        self._starter: asyncio.Task[None] | None = None
        # bytes (None: end) the client sent before the upstream answered: uvloop may deliver some
        # even though reading was paused in connection_made
        self._early: list[bytes | None] | None = []

    # -- life cycle -------------------------------------------------------------------------------------

    def start(self) -> None:
        """Called once the client socket is accepted: connect upstream, then let bytes flow."""
        self.client.pause_reading("connecting")
        self._starter = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.proxy.upstream_address
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self.upstream, host, port), _CONNECT_TIMEOUT_S
            )
        except (OSError, TimeoutError) as exc:
            log.info(
                "proxy %s: upstream %s unreachable (%s); closing the client",
                self.proxy.name,
                self.proxy.upstream,
                exc,
            )
            self.close()
            return
        if self.closed:
            self.upstream.close()
            return
        if self._reached_own_proxy():
            self.close()
            return
        await self.apply_toxics()
        early, self._early = self._early or [], None
        self.client.sink = self.up.on_data
        for item in early:
            if item is None:
                self.up.on_eof()
            else:
                self.up.on_data(item)
        self.client.resume_reading("connecting")

    def _reached_own_proxy(self) -> bool:
        transport = self.upstream.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        local = transport.get_extra_info("sockname") if transport is not None else None
        if not peer or not local:
            return False
        return self.proxy.reached_itself((peer[0], peer[1]), local[0])

    def close(self) -> None:
        """FIN on both sockets (after what their transports already buffered)."""
        if self._finish():
            self.client.close()
            self.upstream.close()

    def reset(self) -> None:
        """TCP RST to the client; the upstream is closed."""
        if self._finish():
            self.client.reset()
            self.upstream.close()

    def _finish(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        self.up.cancel_tasks()
        self.down.cancel_tasks()
        if self._starter is not None and asyncio.current_task() is not self._starter:
            self._starter.cancel()
        self.proxy.forget(self)
        return True

    def flow_ended(self) -> None:
        if self.up.ended and self.down.ended:
            self.close()

    # -- socket events ------------------------------------------------------------------------------

    def _early_data(self, data: bytes) -> None:
        if self._early is not None:
            self._early.append(data)

    def _first_downstream_data(self, data: bytes) -> None:
        self.downstream_started = True
        self.upstream.sink = self.down.on_data
        self.down.on_data(data)

    def eof(self, side: Side) -> None:
        if side is self.client and self._early is not None:
            self._early.append(None)
            return
        (self.up if side is self.client else self.down).on_eof()

    def lost(self, side: Side, exc: Exception | None) -> None:
        self.close()  # once: a second call finds the connection finished

    def dest_paused(self, side: Side, paused: bool) -> None:
        (self.down if side is self.client else self.up).dest_paused(paused)

    # -- toxics ------------------------------------------------------------------------------------------

    async def apply_toxics(self) -> None:
        """Bring both directions in line with the proxy's current toxics."""
        await self.up.apply(lambda: self._entries("upstream"))
        await self.down.apply(lambda: self._entries("downstream"))

    def _entries(self, direction: Direction) -> list[ChainEntry]:
        entries = []
        for entry in self.proxy.chain(direction):
            if entry.toxic.per_request or self._rolled(entry):
                entries.append(entry)
        return entries

    def _rolled(self, entry: ChainEntry) -> bool:
        """Toxicity of a TCP toxic is decided once per connection (and again if the toxic changes)."""
        previous = self._rolls.get(entry.name)
        if previous is not None and previous[0] is entry.toxic:
            return previous[1]
        active = entry.toxicity >= 1.0 or random.random() < entry.toxicity
        self._rolls[entry.name] = (entry.toxic, active)
        return active

    # -- ConnectionContext ---------------------------------------------------------------------------

    def send_to_client(self, data: bytes) -> None:
        self.down.inject(data)

    def state_for(self, name: str) -> dict[str, object]:
        return self._state.setdefault(name, {})

    def record_decision(self, toxic: str, request: MessageHead | None, action: str, detail: str) -> None:
        self.proxy.decisions.record(ToxicDecision.on_request(time.time(), toxic, request, action, detail))

    def drop_state(self, name: str) -> None:
        self._state.pop(name, None)
        self._rolls.pop(name, None)
