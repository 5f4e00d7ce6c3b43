"""Whole HTTP/1.1 messages out of one direction's byte stream, for the per-request toxics.

The framing state lives in the connection's toxic state, so a chain rebuild (another toxic added on a
live connection) resumes mid-message instead of losing the bytes already buffered. Anything that is
not HTTP this framer can delimit (a tunnel after 101/CONNECT, or a framing error) is passed through
untouched: a fault proxy must never corrupt traffic it does not understand.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from harness.opids import OP_HEADER
from harness.proxy.channel import Chunk
from harness.proxy.http1 import Http1Framer, HttpFramingError, Message, MessageHead
from harness.proxy.stub import ConnectionContext, ToxicStub
from harness.proxy.toxics.base import Attributes


class RequestAttributes(Attributes):
    """What every per-request toxic takes beside its own attributes.

    ``seed`` makes the sequence of decisions repeat; ``path`` narrows them to the requests whose path
    is that path or below it (``/refund`` matches ``/refund`` and ``/refund/7?x=1``, not ``/refunds``),
    so one hop's single endpoint can be faulted while the rest of its traffic passes untouched. A
    request outside ``path`` draws nothing from the toxic's random source: with a ``seed``, the n-th
    decision is the n-th matching request's whatever else the connection carries.
    """

    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    path: str | None = Field(None, pattern=r"^/[^\s?#]*$", max_length=2048)

    @model_serializer(mode="wrap")
    def _path_only_when_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A toxic added without ``path`` reads back as it did before ``path`` existed (a client that
        compares what it set with what the API answers sees no new ``"path": null``)."""
        shown: dict[str, Any] = handler(self)
        if self.path is None:
            shown.pop("path", None)
        return shown


def request_path(request: MessageHead | None) -> str | None:
    """The path of a request-target (origin or absolute form), without its query; None if unknown."""
    if request is None or not request.target:
        return None
    target = request.target
    if not target.startswith("/"):
        target = urlsplit(target).path or "/"
    return target.split("?", 1)[0].split("#", 1)[0]


def under_path(request: MessageHead | None, path: str | None) -> bool:
    """Whether ``request`` is within ``path`` (always, when there is no ``path``; never when the request
    is not known: a toxic added mid-connection cannot tell what an early response answers)."""
    if path is None:
        return True
    actual = request_path(request)
    if actual is None:
        return False
    prefix = path.rstrip("/")
    return actual in (path, prefix) or actual.startswith(prefix + "/")


def decides(stub: ToxicStub, rng: random.Random, attrs: RequestAttributes,
            request: MessageHead | None) -> bool:
    """One per-request decision: the request is within ``path`` and the roll hit ``toxicity``."""
    return under_path(request, attrs.path) and stub.roll(rng)


class HttpStream:
    """Complete messages of one direction of one connection, for one toxic."""

    def __init__(self, role: Literal["request", "response"], context: ConnectionContext) -> None:
        self.role = role
        self.framer = Http1Framer(role)
        # a toxic added after responses began cannot know which earlier requests were answered
        self.methods_noted = len(context.forwarded_requests) if context.downstream_started else 0
        self.answered = self.methods_noted
        """Index in ``forwarded_requests`` of the request the next final response answers."""
        self.request: MessageHead | None = None
        """The head of the request behind the message :meth:`next` returned last (a response's: the
        request it answers; None when that is not known)."""
        self.pending: deque[Message] = deque()
        self.after_pending: list[Chunk] = []  # raw bytes (and maybe the end) due after ``pending``
        self.raw_mode = False
        self.hanging = False

    @classmethod
    def of(cls, stub: ToxicStub, role: Literal["request", "response"]) -> HttpStream:
        """The stream this toxic keeps on ``stub`` (made on first use, then the same one)."""
        return stub.state(lambda: cls(role, stub.context))

    async def next(self, stub: ToxicStub) -> Message | None:
        """The next complete message, or None once the stream has ended (the end is passed on)."""
        while True:
            if self.pending:
                message = self.pending.popleft()
                self.request = self._request_of(message, stub.context)
                return message
            if self.after_pending:
                items, self.after_pending = self.after_pending, []
                for item in items:
                    stub.output.put(item)
                if items[-1] is None:
                    return None
            if self.raw_mode:
                await stub.pass_through()
                return None
            self._feed(stub, await stub.read())

    def _feed(self, stub: ToxicStub, chunk: Chunk) -> None:
        context = stub.context
        if self.role == "response":
            while self.methods_noted < len(context.forwarded_requests):
                head = context.forwarded_requests[self.methods_noted]
                self.framer.note_request_method(head.method or "GET")
                self.methods_noted += 1
        try:
            if chunk is None:
                self.pending.extend(self.framer.feed_eof())
                self.after_pending = [*_nonempty(self.framer.take_buffered()), None]
                return
            self.pending.extend(self.framer.feed(chunk))
            if self.framer.opaque or context.tunnel:
                context.tunnel = True
                self.raw_mode = True
                self.after_pending = _nonempty(self.framer.take_buffered())
        except HttpFramingError:
            self.raw_mode = True
            self.after_pending = _nonempty(self.framer.take_buffered())
            if chunk is None:
                self.after_pending.append(None)

    @property
    def op_id(self) -> str | None:
        """The op id of the request behind the message :meth:`next` returned last."""
        return None if self.request is None else self.request.header(OP_HEADER)

    def _request_of(self, message: Message, context: ConnectionContext) -> MessageHead | None:
        """A request's own head; for a final response, that of the request it answers."""
        if self.role == "request":
            return message.head
        forwarded = context.forwarded_requests
        answered = forwarded[self.answered] if self.answered < len(forwarded) else None
        if not is_interim(message):  # a 1xx precedes the final answer to the same request
            self.answered += 1
        return answered

    def hand_on(self, stub: ToxicStub) -> None:
        """The toxic is leaving the connection: everything held goes on, in order."""
        for message in self.pending:
            stub.output.put(message.raw)
        self.pending.clear()
        for item in self.after_pending:
            stub.output.put(item)
        self.after_pending = []
        for item in _nonempty(self.framer.take_buffered()):
            stub.output.put(item)


def _nonempty(data: bytes) -> list[Chunk]:
    return [data] if data else []


def is_interim(message: Message) -> bool:
    """A 1xx response other than 101: informational, the real answer is still to come."""
    status = message.head.status
    return status is not None and 100 <= status < 200 and status != 101
