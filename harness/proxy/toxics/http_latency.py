"""http_latency: a whole request (stream upstream) or response (stream downstream) waits
``latency`` ± ``jitter`` ms, decided per request with probability ``toxicity`` (seeded by ``seed``;
with ``path``, only for the requests within it).

Unlike ``latency``, which delays every TCP chunk, this delays messages: one slow answer among fast
ones on the same keep-alive connection, which is what pushes a single attempt past a client timeout.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics._http import HttpStream, RequestAttributes, decides
from harness.proxy.toxics.base import MAX_MS, Toxic
from harness.proxy.toxics.latency import jittered_seconds
from harness.proxy.toxics.registry import register


class HttpLatencyAttributes(RequestAttributes):
    latency: int = Field(0, ge=0, le=MAX_MS)
    jitter: int = Field(0, ge=0, le=MAX_MS)


@register("http_latency")
class HttpLatencyToxic(Toxic[HttpLatencyAttributes]):
    model = HttpLatencyAttributes
    per_request = True
    needs_request_log = True

    def _stream(self, stub: ToxicStub) -> HttpStream:
        role: Literal["request", "response"] = "request" if stub.direction == "upstream" else "response"
        return HttpStream.of(stub, role)

    async def pipe(self, stub: ToxicStub) -> None:
        stream = self._stream(stub)
        while True:
            message = await stream.next(stub)
            if message is None:
                return
            delay = 0.0
            if decides(stub, self.rng, self.attrs, stream.request):
                delay = jittered_seconds(self.attrs.latency, self.attrs.jitter, self.rng)
                stub.record("delay", stream.request, f"{delay * 1000:.0f} ms")
            try:
                await stub.sleep_for(delay)
            finally:
                stub.write(message.raw)

    def cleanup(self, stub: ToxicStub) -> None:
        self._stream(stub).hand_on(stub)
