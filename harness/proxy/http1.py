"""Byte-exact, incremental HTTP/1.1 message framing for the proxy's per-request toxics.

The HTTP toxics (drop a response, delay a request, answer an error) must act on whole messages while
forwarding every other byte untouched: a proxy that re-serialised headers would change what the target
sees and could hide the very bugs the harness is looking for. So this module only finds message
boundaries (RFC 9112 §6) and hands back the exact bytes received; it does no I/O and keeps no clock,
which keeps it testable one byte at a time.

Body length, in the order RFC 9112 §6.3 applies it:

* a response to HEAD, any 1xx, 204 and 304 has no body; 101, and 2xx to CONNECT, end framing
  (the connection becomes an opaque tunnel, see :attr:`Http1Framer.opaque`);
* ``Transfer-Encoding`` whose final coding is ``chunked`` wins over ``Content-Length``; in a response
  another final coding means "read until close", in a request it is an error;
* ``Content-Length`` (identical repeated values allowed) gives the length; anything else is an error;
* otherwise a request has no body and a response runs until the connection closes.

Work is O(n) in the bytes fed: the buffer is a ``bytearray`` trimmed from the front (amortised O(1) in
CPython) and every search resumes where the previous one stopped.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal

__all__ = ["DEFAULT_MAX_HEAD_BYTES", "Http1Framer", "HttpFramingError", "Message", "MessageHead"]

DEFAULT_MAX_HEAD_BYTES = 64 * 1024
"""Largest header block (or chunk-size line, or trailer block) accepted before giving up."""

_MAX_CONTENT_LENGTH_DIGITS = 18  # < 2**63: no real body is larger, and it bounds int() work
_MAX_CHUNK_SIZE_DIGITS = 16

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(rb"HTTP/[0-9]\.[0-9]")
_STATUS = re.compile(rb"[0-9]{3}")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_DIGITS = re.compile(r"[0-9]+")
_FORBIDDEN_IN_LINE = re.compile(rb"[\r\n\x00]")

_State = Literal["head", "length", "chunk_size", "chunk_data", "trailers", "until_close", "opaque"]


class HttpFramingError(Exception):
    """The bytes are not HTTP/1.1 this framer can delimit; the message says what and where."""


@dataclass(frozen=True)
class MessageHead:
    """The parsed start line and header fields of one message, with the exact bytes they came from.

    ``raw`` runs from the first byte of the message (including any empty lines tolerated before a
    request line, RFC 9112 §2.2) up to and including the blank line ending the header section.
    Header names and values are decoded as ISO-8859-1 so that every byte survives the round trip.
    """

    kind: Literal["request", "response"]
    method: str | None
    target: str | None
    status: int | None
    headers: list[tuple[str, str]]
    raw: bytes

    def header(self, name: str) -> str | None:
        """The value of the first field called ``name`` (case-insensitive), or None if absent."""
        wanted = name.lower()
        for field_name, value in self.headers:
            if field_name.lower() == wanted:
                return value
        return None


@dataclass(frozen=True)
class Message:
    """One complete message: its head and every byte of it, body and trailers included, as received."""

    head: MessageHead
    raw: bytes


class Http1Framer:
    """Splits one direction of an HTTP/1.1 connection into complete messages, byte for byte.

    Feed it what the socket delivers; it returns the messages completed so far and keeps partial bytes.
    A response framer needs the methods of the requests sent on the same connection, in order
    (:meth:`note_request_method`), because a response to HEAD or CONNECT is framed differently.
    """

    def __init__(
        self, role: Literal["request", "response"], *, max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
    ) -> None:
        if role not in ("request", "response"):
            raise ValueError(f"role must be 'request' or 'response', not {role!r}")
        self._role: Literal["request", "response"] = role
        self._max_head_bytes = max_head_bytes
        self._methods: deque[str] = deque()
        self._buf = bytearray()
        self._start = 0  # first byte of the message being framed
        self._pos = 0  # first byte not yet consumed by the state machine
        self._scan = 0  # where the next delimiter search resumes
        self._state: _State = "head"
        self._head: MessageHead | None = None
        self._remaining = 0  # bytes still expected in "length" / "chunk_data"
        self._tunnel_after_head = False
        self._closed = False

    # -- public API ---------------------------------------------------------------------------------

    def note_request_method(self, method: str) -> None:
        """Record the method of a request sent on this connection (FIFO, matched to responses)."""
        self._methods.append(method.upper())

    @property
    def opaque(self) -> bool:
        """True once a 101 response or a 2xx answer to CONNECT has been framed: no more HTTP follows."""
        return self._state == "opaque"

    def enter_opaque(self) -> None:
        """Stop framing from now on; the other direction of a tunnel calls this on its peer framer.

        The request side cannot see the 101 or the 2xx to CONNECT, so the proxy tells it.
        Bytes of a message not yet complete stay buffered and come back from :meth:`take_buffered`.
        """
        self._state = "opaque"
        self._head = None

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return the messages they complete, in order (often none)."""
        if self._closed:
            raise HttpFramingError("data fed after end of stream")
        self._buf += data
        messages = self._advance()
        self._compact()
        return messages

    def feed_eof(self) -> list[Message]:
        """The peer closed: a response read "until close" is complete now.

        Bytes of a message cut short by the close stay available through :meth:`take_buffered`, so a
        proxy can still forward them faithfully; the framer reports no message for them.
        """
        self._closed = True
        if self._state == "until_close" and self._head is not None:
            end = len(self._buf)
            return [self._emit(end)]
        return []

    def take_buffered(self) -> bytes:
        """Hand back every byte held but not yet returned in a message, and forget them.

        Used in opaque mode, when a toxic is removed, or at close. Framing restarts at the next byte
        as if it began a new message (unless the framer is opaque).
        """
        held = bytes(self._buf[self._start :])
        self._buf.clear()
        self._start = self._pos = self._scan = 0
        if self._state != "opaque":
            self._state = "head"
        self._head = None
        return held

    # -- state machine -----------------------------------------------------------------------------

    def _advance(self) -> list[Message]:
        """Run the state machine until it needs more bytes; collect completed messages."""
        messages: list[Message] = []
        while True:
            state = self._state
            if state == "head":
                progressed = self._step_head(messages)
            elif state == "length":
                progressed = self._step_length(messages)
            elif state == "chunk_size":
                progressed = self._step_chunk_size()
            elif state == "chunk_data":
                progressed = self._step_chunk_data()
            elif state == "trailers":
                progressed = self._step_trailers(messages)
            else:  # "until_close" and "opaque" only accumulate
                progressed = False
            if not progressed:
                return messages

    def _step_head(self, messages: list[Message]) -> bool:
        buf = self._buf
        # Skip empty lines before the start line (RFC 9112 §2.2); they belong to this message's bytes.
        line_start = self._pos
        while buf.startswith(b"\r\n", line_start):
            line_start += 2
        if line_start >= len(buf) or (line_start == len(buf) - 1 and buf[line_start] == 0x0D):
            self._pos = self._scan = line_start
            self._check_head_size(len(buf) - self._start)
            return False
        self._pos = line_start
        self._scan = max(self._scan, line_start)
        end = buf.find(b"\r\n\r\n", self._scan)
        if end < 0:
            self._scan = max(line_start, len(buf) - 3)
            self._check_head_size(len(buf) - self._start)
            return False
        head_end = end + 4
        self._check_head_size(head_end - self._start)
        head = self._parse_head(bytes(buf[self._start : head_end]), line_start - self._start)
        self._head = head
        self._pos = self._scan = head_end
        self._choose_body(head, messages)
        return True

    def _check_head_size(self, size: int) -> None:
        if size > self._max_head_bytes:
            raise HttpFramingError(f"header section exceeds {self._max_head_bytes} bytes")

    def _choose_body(self, head: MessageHead, messages: list[Message]) -> None:
        """Decide how the body is delimited (RFC 9112 §6.3) and emit a body-less message at once."""
        framing = self._response_framing(head) if head.kind == "response" else self._request_framing(head)
        if framing == "none":
            messages.append(self._emit(self._pos))
        elif framing == "chunked":
            self._state = "chunk_size"
        elif framing == "until_close":
            self._state = "until_close"
        else:
            self._remaining = framing
            self._state = "length"

    def _request_framing(self, head: MessageHead) -> int | Literal["none", "chunked"]:
        codings = _transfer_codings(head)
        if codings:
            if codings[-1] != "chunked" or codings.count("chunked") > 1:
                raise HttpFramingError(
                    f"request Transfer-Encoding must end with a single chunked, got {', '.join(codings)!r}"
                )
            return "chunked"
        length = _content_length(head)
        if length is None or length == 0:
            return "none"
        return length

    def _response_framing(self, head: MessageHead) -> int | Literal["none", "chunked", "until_close"]:
        status = head.status if head.status is not None else 0
        if 100 <= status < 200 and status != 101:
            return "none"  # interim: the final response to the same request follows
        method = self._methods.popleft() if self._methods else None
        if status == 101 or (method == "CONNECT" and 200 <= status < 300):
            self._tunnel_after_head = True
            return "none"
        if method == "HEAD" or status in (204, 304):
            return "none"
        codings = _transfer_codings(head)
        if codings:
            return "chunked" if codings[-1] == "chunked" else "until_close"
        length = _content_length(head)
        if length is None:
            return "until_close"
        return "none" if length == 0 else length

    def _consume_remaining(self) -> bool:
        """Pass over up to ``_remaining`` bytes of the buffer; True once all of them have arrived."""
        available = len(self._buf) - self._pos
        if available < self._remaining:
            self._pos += available
            self._remaining -= available
            return False
        self._pos += self._remaining
        self._remaining = 0
        return True

    def _step_length(self, messages: list[Message]) -> bool:
        if not self._consume_remaining():
            return False
        messages.append(self._emit(self._pos))
        return True

    def _step_chunk_size(self) -> bool:
        buf = self._buf
        line_end = buf.find(b"\r\n", self._scan)
        if line_end < 0:
            self._scan = max(self._pos, len(buf) - 1)
            if len(buf) - self._pos > self._max_head_bytes:
                raise HttpFramingError(f"chunk-size line exceeds {self._max_head_bytes} bytes")
            return False
        line = bytes(buf[self._pos : line_end])
        size_part = line.split(b";", 1)[0].rstrip(b" \t")
        if not _HEX.fullmatch(size_part) or len(size_part) > _MAX_CHUNK_SIZE_DIGITS:
            raise HttpFramingError(f"invalid chunk size line {line[:80]!r}")
        if _FORBIDDEN_IN_LINE.search(line):
            raise HttpFramingError(f"invalid byte in chunk extension {line[:80]!r}")
        size = int(size_part, 16)
        self._pos = self._scan = line_end + 2
        if size == 0:
            self._state = "trailers"
        else:
            self._remaining = size + 2  # the data and its CRLF
            self._state = "chunk_data"
        return True

    def _step_chunk_data(self) -> bool:
        if not self._consume_remaining():
            return False
        if self._buf[self._pos - 2 : self._pos] != b"\r\n":
            raise HttpFramingError("chunk data not followed by CRLF")
        self._scan = self._pos
        self._state = "chunk_size"
        return True

    def _step_trailers(self, messages: list[Message]) -> bool:
        buf = self._buf
        if len(buf) - self._pos < 2:
            return False
        if buf.startswith(b"\r\n", self._pos):
            end = self._pos + 2
        else:
            found = buf.find(b"\r\n\r\n", max(self._scan, self._pos))
            if found < 0:
                self._scan = max(self._pos, len(buf) - 3)
                if len(buf) - self._pos > self._max_head_bytes:
                    raise HttpFramingError(f"trailer section exceeds {self._max_head_bytes} bytes")
                return False
            for line in bytes(buf[self._pos : found]).split(b"\r\n"):
                _parse_field_line(line)
            end = found + 4
        messages.append(self._emit(end))
        return True

    def _emit(self, end: int) -> Message:
        """Cut the bytes of the finished message and reset for the next one."""
        head = self._head
        if head is None:  # pragma: no cover - the state machine only emits after a head
            raise AssertionError("message emitted without a head")
        message = Message(head=head, raw=bytes(self._buf[self._start : end]))
        self._start = self._pos = self._scan = end
        self._head = None
        self._remaining = 0
        if self._tunnel_after_head:
            self._tunnel_after_head = False
            self._state = "opaque"
        else:
            self._state = "head"
        return message

    def _compact(self) -> None:
        """Drop bytes already returned, so the buffer holds only the current message."""
        if self._start:
            del self._buf[: self._start]
            self._pos -= self._start
            self._scan -= self._start
            self._start = 0

    # -- parsing ------------------------------------------------------------------------------------

    def _parse_head(self, raw: bytes, start_line_offset: int) -> MessageHead:
        lines = raw[start_line_offset:-4].split(b"\r\n")
        start_line, field_lines = lines[0], lines[1:]
        if _FORBIDDEN_IN_LINE.search(start_line):
            raise HttpFramingError(f"invalid byte in start line {start_line[:80]!r}")
        headers = [_parse_field_line(line) for line in field_lines]
        if self._role == "request":
            method, target = _parse_request_line(start_line)
            return MessageHead("request", method, target, None, headers, raw)
        status = _parse_status_line(start_line)
        return MessageHead("response", None, None, status, headers, raw)


def _parse_request_line(line: bytes) -> tuple[str, str]:
    parts = line.split(b" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1] or not _VERSION.fullmatch(parts[2]):
        raise HttpFramingError(f"malformed request line {line[:80]!r}")
    return parts[0].decode("ascii"), parts[1].decode("latin-1")


def _parse_status_line(line: bytes) -> int:
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not _VERSION.fullmatch(parts[0]) or not _STATUS.fullmatch(parts[1]):
        raise HttpFramingError(f"malformed status line {line[:80]!r}")
    status = int(parts[1])
    if status < 100:
        raise HttpFramingError(f"status code {status} out of range in {line[:80]!r}")
    return status


def _parse_field_line(line: bytes) -> tuple[str, str]:
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        if line[:1] in (b" ", b"\t"):
            raise HttpFramingError(f"obsolete line folding in header section: {line[:80]!r}")
        raise HttpFramingError(f"malformed header line {line[:80]!r}")
    if _FORBIDDEN_IN_LINE.search(value):
        raise HttpFramingError(f"invalid byte in value of header {name.decode('ascii')!r}")
    return name.decode("ascii"), value.strip(b" \t").decode("latin-1")


def _transfer_codings(head: MessageHead) -> list[str]:
    codings: list[str] = []
    for name, value in head.headers:
        if name.lower() == "transfer-encoding":
            codings.extend(c.strip().lower() for c in value.split(",") if c.strip())
    return codings


def _content_length(head: MessageHead) -> int | None:
    """The single Content-Length, or None; differing or non-numeric values are an error (§6.3 item 5)."""
    values: set[str] = set()
    for name, value in head.headers:
        if name.lower() == "content-length":
            values.update(v.strip() for v in value.split(","))
    if not values:
        return None
    if len(values) > 1:
        raise HttpFramingError(f"conflicting Content-Length values {sorted(values)}")
    (value,) = values
    if not _DIGITS.fullmatch(value) or len(value) > _MAX_CONTENT_LENGTH_DIGITS:
        raise HttpFramingError(f"invalid Content-Length {value!r}")
    return int(value)
