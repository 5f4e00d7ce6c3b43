"""bandwidth: at most ``rate`` KB/s (1 KB = 1000 bytes, as Toxiproxy counts); 0 means unlimited."""

from __future__ import annotations

import time

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import Attributes, Toxic
from harness.proxy.toxics.registry import register

_SLICE_SECONDS = 0.1  # a large chunk at a low rate goes out in 100 ms pieces, as Toxiproxy sends it


class BandwidthAttributes(Attributes):
    rate: int = Field(0, ge=0, le=10_000_000)


@register("bandwidth")
class BandwidthToxic(Toxic[BandwidthAttributes]):
    model = BandwidthAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        rate_bytes_per_s = self.attrs.rate * 1000
        # "debt" carries the rounding of one sleep into the next so the long-run rate holds
        debt = 0.0
        while True:
            chunk = await stub.read()
            if chunk is None:
                stub.write_eof()
                return
            if rate_bytes_per_s == 0:
                stub.write(chunk)
                continue
            pending = chunk
            try:
                per_slice = max(1, int(rate_bytes_per_s * _SLICE_SECONDS))
                while pending:
                    piece, rest = pending[:per_slice], pending[per_slice:]
                    debt += len(piece) / rate_bytes_per_s
                    started = time.monotonic()
                    await stub.sleep_for(debt)
                    debt -= time.monotonic() - started
                    stub.write(piece)
                    pending = rest
            finally:
                stub.write(pending)  # only non-empty when interrupted
