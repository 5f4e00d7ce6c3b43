"""slow_close: the end of the stream is passed on ``delay`` ms late (data flows normally)."""

from __future__ import annotations

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import MAX_MS, Attributes, Toxic
from harness.proxy.toxics.registry import register


class SlowCloseAttributes(Attributes):
    delay: int = Field(0, ge=0, le=MAX_MS)


@register("slow_close")
class SlowCloseToxic(Toxic[SlowCloseAttributes]):
    model = SlowCloseAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.read()
            if chunk is not None:
                stub.write(chunk)
                continue
            try:
                await stub.sleep_for(self.attrs.delay / 1000)
            finally:
                stub.write_eof()
            return
