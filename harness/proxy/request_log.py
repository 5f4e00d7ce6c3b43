"""The hidden last stage of the upstream chain when a proxy has response-framing toxics.

It forwards every chunk at once and, on the side, frames requests to record their heads in the
connection context: a response framer downstream must know which responses answer HEAD, and a toxic
acting on a response which op's request it answers. Sitting at the end of the chain, it records only
requests really sent upstream (not those http_error answered).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.proxy.http1 import Http1Framer, HttpFramingError
from harness.proxy.stub import ToxicStub
from harness.proxy.toxics.base import Attributes, Toxic

REQUEST_LOG_NAME = "__request_log__"


@dataclass
class _LogState:
    framer: Http1Framer = field(default_factory=lambda: Http1Framer("request"))
    off: bool = False


class RequestLog(Toxic[Attributes]):
    """Not a registered toxic: the proxy adds it itself and never lists it."""

    async def pipe(self, stub: ToxicStub) -> None:
        state = stub.state(_LogState)
        forwarded = stub.context.forwarded_requests
        while True:
            chunk = await stub.read()
            stub.output.put(chunk)
            if chunk is None:
                return
            if state.off:
                continue
            if stub.context.tunnel:
                state.off = True
                continue
            try:
                for message in state.framer.feed(chunk):
                    forwarded.append(message.head)
            except HttpFramingError:
                state.off = True


REQUEST_LOG = RequestLog(Attributes())
