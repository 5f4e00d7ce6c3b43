"""What a toxic sees of one direction of one connection: its input, its output and the connection.

A toxic's ``pipe(stub)`` reads chunks with ``await stub.read()`` and writes with ``stub.write``.
When the chain is rebuilt (a toxic added, changed or removed on a live connection) the pipe task is
cancelled: a toxic holding bytes must hand them on (``stub.write`` in a ``finally``), or keep them in
its per-connection state (``stub.state``) and hand them on in its ``cleanup``. Either way no byte is
lost, which is how Toxiproxy's interrupted stubs behave. ``timeout`` alone drops bytes by design, and
so ends the connection when removed, as Toxiproxy's does.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Literal, Protocol, TypeVar, cast

from harness.proxy.channel import Channel
from harness.proxy.http1 import MessageHead

Direction = Literal["upstream", "downstream"]
T = TypeVar("T")


class ConnectionContext(Protocol):
    """The per-connection object shared by both directions' stubs."""

    conn_id: int
    forwarded_requests: list[MessageHead]
    """Heads of the requests forwarded to the upstream on this connection, in order: their methods
    frame the responses (HEAD), their op headers say which op a response belongs to."""
    downstream_started: bool
    """Whether any response byte has arrived yet (a toxic added later starts framing mid-stream)."""
    tunnel: bool
    """Set once the connection stopped being HTTP (101 Switching Protocols, CONNECT)."""

    def close(self) -> None:
        """End the connection with FIN on both sockets."""

    def reset(self) -> None:
        """End the connection with a TCP RST to the client (SO_LINGER 0)."""

    def send_to_client(self, data: bytes) -> None:
        """Write bytes to the client after whatever is already queued for it."""

    def state_for(self, name: str) -> dict[str, object]:
        """The state dictionary of toxic ``name`` on this connection."""

    def record_decision(self, toxic: str, request: MessageHead | None, action: str, detail: str) -> None:
        """Keep a per-request decision of toxic ``toxic`` that took effect on ``request`` (the proxy's
        record)."""


class ToxicStub:
    """One toxic's place in one direction's chain of one connection."""

    __slots__ = ("_close_at_eof", "context", "direction", "input", "name", "output", "stamp", "toxicity")

    def __init__(
        self,
        *,
        name: str,
        input: Channel,
        output: Channel,
        context: ConnectionContext,
        direction: Direction,
        toxicity: float,
        close_at_eof: Callable[[], None],
    ) -> None:
        self._close_at_eof = close_at_eof
        self.name = name
        self.input = input
        self.output = output
        self.context = context
        self.direction = direction
        self.toxicity = toxicity
        self.stamp = time.monotonic()
        """When the chunk last read entered the proxy (monotonic seconds); writes carry it on."""

    async def read(self) -> bytes | None:
        """The next chunk, or None at end of stream; its arrival time becomes ``stamp``."""
        chunk, self.stamp = await self.input.get_stamped()
        return chunk

    def write(self, data: bytes, stamp: float | None = None) -> None:
        """Pass bytes on to the next stage (never blocks), stamped as the chunk last read unless told."""
        if data:
            self.output.put(data, self.stamp if stamp is None else stamp)

    def write_eof(self) -> None:
        """Pass the end of stream on."""
        self.output.put(None)

    def end_connection(self) -> None:
        """End of stream here, and once it has passed the rest of the chain, close the connection.

        Toxiproxy's ``stub.Close()``: bytes already handed on still reach the peer first.
        """
        self._close_at_eof()
        self.output.put(None)

    async def sleep_for(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    async def wait_forever(self) -> None:
        """Park until the pipe is cancelled (the toxic is removed or the connection ends)."""
        await asyncio.get_running_loop().create_future()

    async def pass_through(self) -> None:
        """Forward everything unchanged until end of stream (a toxic that has nothing left to do)."""
        while True:
            chunk, stamp = await self.input.get_stamped()
            self.output.put(chunk, stamp)
            if chunk is None:
                return

    async def discard_until_cancelled(self) -> None:
        """Swallow everything; used to hold a connection silent until the toxic is removed."""
        while await self.input.get() is not None:
            pass
        await self.wait_forever()

    def state(self, factory: Callable[[], T]) -> T:
        """This toxic's state on this connection; survives chain rebuilds, dropped on removal."""
        slot = self.context.state_for(self.name)
        value = slot.get("value")
        if value is None:
            value = factory()
            slot["value"] = value
        return cast(T, value)

    def roll(self, rng: random.Random) -> bool:
        """One per-request decision: True with probability ``toxicity``."""
        return rng.random() < self.toxicity

    def record(self, action: str, request: MessageHead | None, detail: str = "") -> None:
        """A per-request decision took effect on ``request`` (None: not known): keep it for the harness."""
        self.context.record_decision(self.name, request, action, detail)
