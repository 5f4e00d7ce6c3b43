"""latency: every chunk arrives ``latency`` ms (plus or minus up to ``jitter`` ms) after it entered the proxy.

As Toxiproxy's: the delay counts from the chunk's own arrival, not from when the previous chunk left,
so chunks sent 20 ms apart through ``latency: 200`` arrive at about 200, 220, 240 ms. The jitter is
Toxiproxy's draw too: a whole number of milliseconds in ``[-jitter, jitter)``.
"""

from __future__ import annotations

import random
import time

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import MAX_MS, Attributes, Toxic
from harness.proxy.toxics.registry import register


class LatencyAttributes(Attributes):
    latency: int = Field(0, ge=0, le=MAX_MS)
    jitter: int = Field(0, ge=0, le=MAX_MS)


def jittered_seconds(latency_ms: int, jitter_ms: int, rng: random.Random) -> float:
    """``latency`` plus a whole number of ms in ``[-jitter, jitter)``, in seconds; never negative."""
    delay_ms = latency_ms + (rng.randrange(2 * jitter_ms) - jitter_ms if jitter_ms > 0 else 0)
    return max(0.0, delay_ms / 1000)


@register("latency")
class LatencyToxic(Toxic[LatencyAttributes]):
    model = LatencyAttributes

    async def pipe(self, stub: ToxicStub) -> None:
        while True:
            chunk = await stub.read()
            if chunk is None:
                stub.write_eof()
                return
            arrived = stub.stamp
            wait = jittered_seconds(self.attrs.latency, self.attrs.jitter, self.rng) - (
                time.monotonic() - arrived
            )
            try:
                await stub.sleep_for(wait)
            except BaseException:
                stub.write(chunk)  # interrupted: handed on at once, never dropped
                raise
            stub.write(chunk, arrived + wait)  # a later latency toxic counts from here, as in Toxiproxy
