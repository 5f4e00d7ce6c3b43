"""timeout: no data flows, and ``timeout`` ms after the last chunk the connection is closed (0: never).

As Toxiproxy's: every chunk is dropped, the timer starts again with each chunk, and removing the
toxic from a live connection closes that connection (the dropped bytes left a gap no peer could
read past, so handing on later bytes would corrupt the stream).
"""

from __future__ import annotations

import asyncio

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import MAX_MS, Attributes, Toxic
from harness.proxy.toxics.registry import register


class TimeoutAttributes(Attributes):
    timeout: int = Field(0, ge=0, le=MAX_MS)


@register("timeout")
class TimeoutToxic(Toxic[TimeoutAttributes]):
    model = TimeoutAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        seconds = self.attrs.timeout / 1000 if self.attrs.timeout else None
        while True:
            try:
                chunk = await asyncio.wait_for(stub.read(), seconds)
            except TimeoutError:
                break
            if chunk is None:
                break
            # the chunk is dropped on the ground; the wait starts again
        stub.end_connection()
        await stub.wait_forever()

    def cleanup(self, stub: ToxicStub) -> None:
        stub.end_connection()
