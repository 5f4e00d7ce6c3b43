"""http_error: answer a request with ``status`` (default 503) and ``body`` without forwarding it.

The target never sees the request, so a retry after this error is always safe: the control case next
to drop_response. Decided per request with probability ``toxicity`` (seeded by ``seed``; with
``path``, only for the requests within it: e.g. one endpoint answering 409). Acts on
requests whatever ``stream`` says. The answer is written straight to the client, so it assumes the
client does not pipeline requests (no common HTTP client does).
"""

from __future__ import annotations

from http import HTTPStatus

from pydantic import Field

from harness.proxy.http1 import Message
from harness.proxy.stub import ToxicStub
from harness.proxy.toxics._http import HttpStream, RequestAttributes, decides
from harness.proxy.toxics.base import Toxic
from harness.proxy.toxics.registry import register


class HttpErrorAttributes(RequestAttributes):
    status: int = Field(503, ge=200, le=599)
    body: str = Field("", max_length=1024 * 1024)


def error_response(status: int, body: str, request: Message) -> bytes:
    """The bytes of a minimal, well-framed HTTP/1.1 answer to ``request``."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Error"
    payload = body.encode()
    lines = [
        f"HTTP/1.1 {status} {reason}",
        "Content-Type: text/plain; charset=utf-8",
        f"Content-Length: {len(payload)}",
        "X-Fault-Proxy: http_error",
    ]
    if (request.head.header("connection") or "").lower() == "close":
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if request.head.method == "HEAD" else head + payload


@register("http_error")
class HttpErrorToxic(Toxic[HttpErrorAttributes]):
    model = HttpErrorAttributes
    per_request = True
    fixed_stream = "upstream"

    async def pipe(self, stub: ToxicStub) -> None:
        stream = HttpStream.of(stub, "request")
        while True:
            message = await stream.next(stub)
            if message is None:
                return
            if decides(stub, self.rng, self.attrs, stream.request):
                stub.record("error", stream.request, str(self.attrs.status))
                stub.context.send_to_client(error_response(self.attrs.status, self.attrs.body, message))
            else:
                stub.write(message.raw)

    def cleanup(self, stub: ToxicStub) -> None:
        HttpStream.of(stub, "request").hand_on(stub)
