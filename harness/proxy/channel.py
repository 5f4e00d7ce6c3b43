"""A FIFO of byte chunks between two stages of a toxic chain; ``None`` marks the end of the stream.

Not ``asyncio.Queue``: this one is smaller, counts bytes (for back-pressure on the socket that feeds
the chain), and lets a chain rebuild take everything still queued in one synchronous step. A chunk
stays in the deque until ``get`` returns it, so cancelling a waiting reader never loses data.

Each chunk carries a stamp, the monotonic time it entered the proxy (Toxiproxy's ``StreamChunk``
timestamp): a toxic that hands a chunk on keeps its stamp, so ``latency`` can delay every chunk from
its own arrival rather than from when the previous chunk left.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable

Chunk = bytes | None
"""Bytes in flight, or None for end of stream."""

Stamped = tuple[Chunk, float]
"""A chunk and the monotonic time it entered the proxy."""


class Channel:
    """One stage boundary of a toxic chain."""

    __slots__ = ("_items", "_waiter", "nbytes", "on_take")

    def __init__(self) -> None:
        self._items: deque[Stamped] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self.nbytes = 0
        self.on_take: Callable[[], None] | None = None  # called after a get; used for back-pressure

    def put(self, item: Chunk, stamp: float | None = None) -> None:
        """Queue ``item``; ``stamp`` is when it entered the proxy (default: now)."""
        self._items.append((item, time.monotonic() if stamp is None else stamp))
        if item is not None:
            self.nbytes += len(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def extend(self, items: Iterable[Stamped]) -> None:
        for item, stamp in items:
            self.put(item, stamp)

    async def get(self) -> Chunk:
        return (await self.get_stamped())[0]

    async def get_stamped(self) -> Stamped:
        while not self._items:
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        item, stamp = self._items.popleft()
        if item is not None:
            self.nbytes -= len(item)
        if self.on_take is not None:
            self.on_take()
        return item, stamp

    def take_all(self) -> list[Stamped]:
        """Everything queued, oldest first, leaving the channel empty."""
        items = list(self._items)
        self._items.clear()
        self.nbytes = 0
        return items
