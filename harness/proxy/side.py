"""One socket of a proxied connection (the client's or the upstream's) as an asyncio Protocol.

Protocols rather than streams: with no toxic on a direction, bytes go from one transport's
``data_received`` straight into the other's ``write`` (no task, no queue hop), and flow control is
the transports' own: a full write buffer pauses reading on the other socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from harness.proxy.connection import Connection

class Side(asyncio.Protocol):
    """A socket; it reports to its Connection and takes writes from the flow whose destination it is."""

    def __init__(self) -> None:
        self.conn: Connection | None = None
        self.transport: asyncio.Transport | None = None
        self.write_paused = False
        self.drained = asyncio.Event()
        self.drained.set()
        self._pause_reasons: set[str] = set()
        self.sink: Callable[[bytes], None] = _discard  # where received bytes go; set by the Connection

    # -- asyncio.Protocol ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass, same API
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.sink(data)  # one indirection: on the fast path this is the other socket's write

    def eof_received(self) -> bool:
        if self.conn is not None:
            self.conn.eof(self)
        return True  # keep the socket open: the other direction may still be talking (half-close)

    def connection_lost(self, exc: Exception | None) -> None:
        self.drained.set()
        if self.conn is not None:
            self.conn.lost(self, exc)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.drained.clear()
        if self.conn is not None:
            self.conn.dest_paused(self, True)

    def resume_writing(self) -> None:
        self.write_paused = False
        self.drained.set()
        if self.conn is not None:
            self.conn.dest_paused(self, False)

    # -- used by flows -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def write_eof(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            try:
                transport.write_eof()
            except OSError:
                transport.close()

    def pause_reading(self, reason: str) -> None:
        if not self._pause_reasons and self.transport is not None and not self.transport.is_closing():
            self.transport.pause_reading()
        self._pause_reasons.add(reason)

    def resume_reading(self, reason: str) -> None:
        if reason not in self._pause_reasons:
            return
        self._pause_reasons.discard(reason)
        if not self._pause_reasons and self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def reset(self) -> None:
        """Abort with SO_LINGER 0, so the peer gets a TCP RST instead of a FIN."""
        transport = self.transport
        if transport is None:
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()


def _discard(data: bytes) -> None:
    """Sink of a socket not yet joined to a connection."""
