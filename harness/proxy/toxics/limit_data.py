"""limit_data: the connection is closed once ``bytes`` bytes have passed in this direction."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import Attributes, Toxic
from harness.proxy.toxics.registry import register


class LimitDataAttributes(Attributes):
    bytes: int = Field(0, ge=0, le=2**53)


@dataclass
class _Count:
    transmitted: int = 0


@register("limit_data")
class LimitDataToxic(Toxic[LimitDataAttributes]):
    model = LimitDataAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        count = stub.state(_Count)
        while True:
            chunk = await stub.read()
            if chunk is None:
                stub.write_eof()
                return
            allowed = chunk[: max(0, self.attrs.bytes - count.transmitted)]
            stub.write(allowed)
            count.transmitted += len(allowed)
            if count.transmitted >= self.attrs.bytes:
                stub.end_connection()
                await stub.wait_forever()  # returning would let the runner pass more bytes on
