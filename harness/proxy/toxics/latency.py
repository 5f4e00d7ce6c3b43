"""latency: every chunk waits ``latency`` ms, plus or minus up to ``jitter`` ms (Toxiproxy's units)."""

from __future__ import annotations

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import MAX_MS, Attributes, Toxic
from harness.proxy.toxics.registry import register


class LatencyAttributes(Attributes):
    latency: int = Field(0, ge=0, le=MAX_MS)
    jitter: int = Field(0, ge=0, le=MAX_MS)


def jittered_seconds(latency_ms: int, jitter_ms: int, uniform: float) -> float:
    """``latency ± jitter`` in seconds from a uniform draw in [0, 1); never negative."""
    delay_ms = latency_ms + (2 * uniform - 1) * jitter_ms if jitter_ms else latency_ms
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
            try:
                await stub.sleep_for(
                    jittered_seconds(self.attrs.latency, self.attrs.jitter, self.rng.random())
                )
            finally:
                stub.write(chunk)  # interrupted or not, the chunk is handed on
