"""reset_peer: on the first data, wait ``timeout`` ms, then reset the connection (TCP RST, SO_LINGER 0).

The data that triggered it is dropped, as Toxiproxy drops it.
"""

from __future__ import annotations

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import MAX_MS, Attributes, Toxic
from harness.proxy.toxics.registry import register


class ResetPeerAttributes(Attributes):
    timeout: int = Field(0, ge=0, le=MAX_MS)


@register("reset_peer")
class ResetPeerToxic(Toxic[ResetPeerAttributes]):
    model = ResetPeerAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        chunk = await stub.read()
        if chunk is None:
            stub.write_eof()
            return
        await stub.sleep_for(self.attrs.timeout / 1000)
        stub.context.reset()
