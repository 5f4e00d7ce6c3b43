"""drop_response: the request reaches the target, the complete response is discarded.

This is the fault behind duplicate effects: the target did the work, the client never hears so and
retries. Decided per request with probability ``toxicity`` (seeded by ``seed``), after the upstream has
sent the whole response, then by ``mode``: ``reset`` (TCP RST to the client), ``close`` (FIN) or
``hang`` (the client hears nothing more on this connection until it gives up or the toxic is removed,
which then closes the connection). Acts on responses whatever ``stream`` says; with ``path``, only on
the answers to requests within it.
"""

from __future__ import annotations

from typing import Literal

from harness.proxy.stub import ToxicStub
from harness.proxy.toxics._http import HttpStream, RequestAttributes, decides, is_interim
from harness.proxy.toxics.base import Toxic
from harness.proxy.toxics.registry import register


class DropResponseAttributes(RequestAttributes):
    mode: Literal["reset", "close", "hang"] = "reset"


@register("drop_response")
class DropResponseToxic(Toxic[DropResponseAttributes]):
    model = DropResponseAttributes
    per_request = True
    needs_request_log = True
    fixed_stream = "downstream"

    async def pipe(self, stub: ToxicStub) -> None:
        stream = HttpStream.of(stub, "response")
        if stream.hanging:
            await stub.discard_until_cancelled()
        while True:
            message = await stream.next(stub)
            if message is None:
                return
            if is_interim(message) or not decides(stub, self.rng, self.attrs, stream.request):
                stub.write(message.raw)
                continue
            stub.record(self.attrs.mode, stream.request)
            if self.attrs.mode == "reset":
                stub.context.reset()
                return
            if self.attrs.mode == "close":
                stub.end_connection()
                await stub.wait_forever()
            stream.hanging = True
            await stub.discard_until_cancelled()

    def cleanup(self, stub: ToxicStub) -> None:
        stream = HttpStream.of(stub, "response")
        if stream.hanging:
            stub.context.close()
        else:
            stream.hand_on(stub)
