"""timeout: no data flows; after ``timeout`` ms the connection is closed. 0: hold the data until removed.

Held bytes are kept in the connection's state, so when the toxic is removed they are delivered in
order rather than lost (the caller asked for a pause, not for corruption).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import MAX_MS, Attributes, Toxic
from harness.proxy.toxics.registry import register


class TimeoutAttributes(Attributes):
    timeout: int = Field(0, ge=0, le=MAX_MS)


@dataclass
class _Held:
    started: float = field(default_factory=time.monotonic)
    chunks: list[bytes | None] = field(default_factory=list)


@register("timeout")
class TimeoutToxic(Toxic[TimeoutAttributes]):
    model = TimeoutAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        held = stub.state(_Held)
        deadline = held.started + self.attrs.timeout / 1000
        while True:
            if self.attrs.timeout == 0:
                chunk = await stub.read()
            else:
                try:
                    chunk = await asyncio.wait_for(stub.read(), max(0.0, deadline - time.monotonic()))
                except TimeoutError:
                    held.chunks.clear()  # the data dies with the connection, as in Toxiproxy
                    stub.end_connection()
                    await stub.wait_forever()
            held.chunks.append(chunk)

    def cleanup(self, stub: ToxicStub) -> None:
        for chunk in stub.state(_Held).chunks:
            stub.output.put(chunk)
