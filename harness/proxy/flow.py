"""One direction of a proxied connection: a fast path, or a chain of toxic stages.

With no toxic, ``on_data`` writes straight to the destination socket. With toxics, chunks enter a
chain of channels with one task per toxic and a writer task at the end, as Toxiproxy's per-direction
chain of stubs. A change of toxics on a live connection cancels the stage tasks (each hands on what it
holds), moves every queued chunk to the matching position of the new chain (bytes that already passed
a surviving toxic do not pass it again) and starts the new stages: nothing is lost or reordered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.proxy.channel import Channel, Stamped
from harness.proxy.side import Side
from harness.proxy.stub import Direction, ToxicStub
from harness.proxy.toxics.base import Toxic

if TYPE_CHECKING:
    from harness.proxy.connection import Connection

log = logging.getLogger(__name__)

_HIGH_WATER = 4 * 1024 * 1024  # bytes queued in a chain before the source socket stops being read
_LOW_WATER = 1024 * 1024


@dataclass(frozen=True)
class ChainEntry:
    """A toxic as one connection's direction runs it."""

    name: str
    toxic: Toxic[Any]
    toxicity: float


@dataclass
class _Stage:
    entry: ChainEntry
    stub: ToxicStub
    task: asyncio.Task[None]


class Flow:
    """Moves bytes from ``source`` to ``dest`` through the toxics of one direction."""

    def __init__(self, conn: Connection, direction: Direction, source: Side, dest: Side) -> None:
        self.conn = conn
        self.direction = direction
        self.source = source
        self.dest = dest
        self.head: Channel | None = None  # None: fast path
        self.tail: Channel | None = None
        self.stages: list[_Stage] = []
        self.writer: asyncio.Task[None] | None = None
        self.ended = False
        self.eof_seen = False
        self.close_at_eof = False
        self._lock = asyncio.Lock()

    # -- bytes in -------------------------------------------------------------------------------------

    def on_data(self, data: bytes) -> None:
        head = self.head
        if head is None:
            self.dest.write(data)  # the fast path: straight into the other socket
            return
        head.put(data)
        if head.nbytes > _HIGH_WATER:
            self.source.pause_reading("chain")

    def on_eof(self) -> None:
        if self.eof_seen:
            return
        self.eof_seen = True
        if self.head is None:
            self._output_ended()
        else:
            self.head.put(None)

    def inject(self, data: bytes) -> None:
        """Bytes that did not come from the source (an http_error answer), after what is queued."""
        if self.ended:
            return
        if self.tail is None:
            self.dest.write(data)
        else:
            self.tail.put(data)

    def dest_paused(self, paused: bool) -> None:
        """The destination's write buffer filled or drained; on the fast path, pause the source."""
        if self.head is not None:
            return  # the writer task waits for ``dest.drained`` itself
        if paused:
            self.source.pause_reading("dest")
        else:
            self.source.resume_reading("dest")

    def request_close_at_eof(self) -> None:
        self.close_at_eof = True

    def _head_taken(self) -> None:
        head = self.head
        if head is not None and head.nbytes < _LOW_WATER:
            self.source.resume_reading("chain")

    def _output_ended(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self.close_at_eof:
            self.conn.close()
            return
        self.dest.write_eof()
        self.conn.flow_ended()

    # -- the chain ------------------------------------------------------------------------------------

    async def apply(self, current: Callable[[], Sequence[ChainEntry]]) -> None:
        """Run this direction through the ``current()`` entries from now on, keeping every byte in flight.

        ``current`` is called under the lock, so concurrent changes apply in the order they were made.
        """
        async with self._lock:
            if self.ended or self.conn.closed:
                return
            entries = current()
            if [(s.entry.name, s.entry.toxic) for s in self.stages] == [(e.name, e.toxic) for e in entries]:
                return
            old = self.stages
            for stage in old:
                stage.task.cancel()
            going_fast = not entries
            writer = self.writer
            if going_fast and writer is not None:
                writer.cancel()
            pending = [s.task for s in old] + ([writer] if going_fast and writer is not None else [])
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            if self.conn.closed:
                return
            self._rebuild(old, entries)

    def _rebuild(self, old: list[_Stage], entries: Sequence[ChainEntry]) -> None:
        """Synchronous, so no byte can arrive between taking the old queues and filling the new ones."""
        new_names = {entry.name for entry in entries}
        for stage in old:
            if stage.entry.name not in new_names:
                stage.entry.toxic.cleanup(stage.stub)  # hands on into its output channel
                self.conn.drop_state(stage.entry.name)
        # a chunk queued before old stage k has passed old stages 0..k-1; in the new chain it resumes
        # after the survivors among those. Later positions hold older bytes, so they go first.
        buckets: list[list[Stamped]] = [[] for _ in range(len(entries) + 1)]
        survivors_before = [0] * (len(old) + 1)
        for k, stage in enumerate(old):
            survivors_before[k + 1] = survivors_before[k] + (stage.entry.name in new_names)
        for k in range(len(old) - 1, -1, -1):
            buckets[survivors_before[k]].extend(old[k].stub.input.take_all())
        if not entries:
            self._go_fast(buckets[0])
            return
        tail = self.tail if self.tail is not None else Channel()
        inputs = [Channel() for _ in entries] + [tail]
        for position, items in enumerate(buckets):
            inputs[position].extend(items)
        self.stages = []
        for index, entry in enumerate(entries):
            stub = ToxicStub(
                name=entry.name,
                input=inputs[index],
                output=inputs[index + 1],
                context=self.conn,
                direction=self.direction,
                toxicity=entry.toxicity,
                close_at_eof=self.request_close_at_eof,
            )
            task = asyncio.get_running_loop().create_task(self._run_stage(entry.toxic, stub))
            self.stages.append(_Stage(entry, stub, task))
        head = inputs[0]
        head.on_take = self._head_taken
        if self.head is None:  # leaving the fast path: the writer task now waits for the socket
            self.source.resume_reading("dest")
        self.head = head
        self.tail = tail
        if self.writer is None or self.writer.done():
            self.writer = asyncio.get_running_loop().create_task(self._write_loop(tail))

    def _go_fast(self, items: list[Stamped]) -> None:
        queued = self.tail.take_all() if self.tail is not None else []
        self.stages = []
        self.head = None
        self.tail = None
        self.writer = None
        self.source.resume_reading("chain")
        for item, _ in [*queued, *items]:
            if item is None:
                self._output_ended()
                return
            self.dest.write(item)
        if self.dest.write_paused:
            self.source.pause_reading("dest")

    async def _run_stage(self, toxic: Toxic[Any], stub: ToxicStub) -> None:
        try:
            await toxic.pipe(stub)
        except asyncio.CancelledError:
            raise
        except Exception:
            # a toxic's bug must not take the connection down: log it and stop being toxic
            log.exception(
                "toxic %s failed on connection %s; passing bytes through", stub.name, self.conn.conn_id
            )
            await stub.pass_through()

    async def _write_loop(self, tail: Channel) -> None:
        dest = self.dest
        while True:
            item = await tail.get()
            if item is None:
                self._output_ended()
                return
            dest.write(item)
            if dest.write_paused:
                await dest.drained.wait()

    def cancel_tasks(self) -> None:
        for stage in self.stages:
            stage.task.cancel()
        if self.writer is not None:
            self.writer.cancel()
