"""slicer: each chunk goes out as several small writes of ``average_size`` ± ``size_variation`` bytes,
``delay`` microseconds apart (simulates a stream that arrives in small TCP segments)."""

from __future__ import annotations

from pydantic import Field, model_validator

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import Attributes, Toxic
from harness.proxy.toxics.registry import register


class SlicerAttributes(Attributes):
    average_size: int = Field(1, ge=1, le=64 * 1024 * 1024)
    size_variation: int = Field(0, ge=0)
    delay: int = Field(0, ge=0, le=60_000_000)  # microseconds, as Toxiproxy

    @model_validator(mode="after")
    def _variation_within_average(self) -> SlicerAttributes:
        if self.size_variation > self.average_size:
            raise ValueError(
                f"size_variation ({self.size_variation}) must not exceed average_size ({self.average_size})"
            )
        return self


@register("slicer")
class SlicerToxic(Toxic[SlicerAttributes]):
    model = SlicerAttributes

    def slice_sizes(self, total: int) -> list[int]:
        """Sizes summing to ``total``, each about ``average_size`` (never zero)."""
        sizes = []
        average, variation = self.attrs.average_size, self.attrs.size_variation
        remaining = total
        while remaining > 0:
            size = average + (self.rng.randint(-variation, variation) if variation else 0)
            size = min(max(1, size), remaining)
            sizes.append(size)
            remaining -= size
        return sizes

    async def pipe(self, stub: ToxicStub) -> None:
        delay_s = self.attrs.delay / 1_000_000
        while True:
            chunk = await stub.read()
            if chunk is None:
                stub.write_eof()
                return
            offset = 0
            try:
                for size in self.slice_sizes(len(chunk)):
                    stub.write(chunk[offset : offset + size])
                    offset += size
                    if delay_s:
                        await stub.sleep_for(delay_s)
                    else:
                        await stub.sleep_for(0)
            finally:
                stub.write(chunk[offset:])
