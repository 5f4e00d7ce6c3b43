"""The HTTP/1.1 framer returns exactly the bytes it was fed, cut at exactly the message boundaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.proxy.http1 import Http1Framer, HttpFramingError, Message

Role = Literal["request", "response"]


def feed_all(framer: Http1Framer, pieces: list[bytes], eof: bool = False) -> list[Message]:
    """Feed pieces in order and collect every message, as a proxy's read loop would."""
    messages: list[Message] = []
    for piece in pieces:
        messages.extend(framer.feed(piece))
    if eof:
        messages.extend(framer.feed_eof())
    return messages


def one_byte_at_a_time(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
POST_LENGTH = b"POST /pay HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nIdempotency-Key: k1\r\n\r\nhello world"
POST_CHUNKED = (
    b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
    b'5;name=value\r\nabcde\r\n3 ; quoted="a;b"\r\nfgh\r\n0\r\n\r\n'
)
DELETE = b"DELETE /pay/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
KEEP_ALIVE_REQUESTS = [GET, POST_LENGTH, POST_CHUNKED, DELETE]

CHUNKED_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Digest\r\n\r\n"
    b'A;ext1;ext2="x y"\r\n0123456789\r\n'
    b"1\r\nZ\r\n"
    b"0;last=yes\r\nDigest: sha-256=abc\r\nX-Other:  v \r\n\r\n"
)


def test_keep_alive_requests_come_back_byte_exact_with_parsed_heads() -> None:
    framer = Http1Framer("request")
    messages = framer.feed(b"".join(KEEP_ALIVE_REQUESTS))
    assert [m.raw for m in messages] == KEEP_ALIVE_REQUESTS
    assert [(m.head.method, m.head.target) for m in messages] == [
        ("GET", "/a"),
        ("POST", "/pay"),
        ("POST", "/up"),
        ("DELETE", "/pay/1"),
    ]
    post = messages[1].head
    assert post.kind == "request"
    assert post.status is None
    assert post.headers == [("Host", "x"), ("Content-Length", "11"), ("Idempotency-Key", "k1")]
    assert post.header("idempotency-key") == "k1"
    assert post.header("X-Missing") is None
    assert post.raw == POST_LENGTH[: -len(b"hello world")]
    assert framer.take_buffered() == b""


def test_one_byte_at_a_time_gives_the_same_messages() -> None:
    data = b"".join(KEEP_ALIVE_REQUESTS)
    framer = Http1Framer("request")
    messages = feed_all(framer, one_byte_at_a_time(data))
    assert [m.raw for m in messages] == KEEP_ALIVE_REQUESTS
    assert [m.head for m in messages] == [m.head for m in Http1Framer("request").feed(data)]


def test_chunked_response_with_extensions_and_trailers_split_at_every_boundary() -> None:
    for cut in range(len(CHUNKED_RESPONSE) + 1):
        framer = Http1Framer("response")
        framer.note_request_method("GET")
        messages = feed_all(framer, [CHUNKED_RESPONSE[:cut], CHUNKED_RESPONSE[cut:], b"HTTP/1.1 20"])
        assert [m.raw for m in messages] == [CHUNKED_RESPONSE], cut
        assert messages[0].head.status == 200
        assert messages[0].head.header("TRAILER") == "Digest"
        # The start of the next response waits in the buffer until its head is complete.
        assert framer.take_buffered() == b"HTTP/1.1 20"


def test_transfer_encoding_chunked_wins_over_content_length() -> None:
    message = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"
    )
    framer = Http1Framer("response")
    assert [m.raw for m in framer.feed(message + b"HTTP/1.1 204 No Content\r\n\r\n")] == [
        message,
        b"HTTP/1.1 204 No Content\r\n\r\n",
    ]


def test_response_to_head_has_no_body_whatever_its_content_length() -> None:
    head_response = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
    get_response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    framer = Http1Framer("response")
    framer.note_request_method("head")
    framer.note_request_method("GET")
    assert [m.raw for m in framer.feed(head_response + get_response)] == [head_response, get_response]


@pytest.mark.parametrize("status", [204, 304])
def test_204_and_304_have_no_body(status: int) -> None:
    response = b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\n" % status
    framer = Http1Framer("response")
    framer.note_request_method("GET")
    framer.note_request_method("GET")
    following = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde"
    assert [m.raw for m in framer.feed(response + following)] == [response, following]


def test_interim_1xx_responses_do_not_consume_a_request_method() -> None:
    framer = Http1Framer("response")
    framer.note_request_method("HEAD")
    framer.note_request_method("GET")
    continue_ = b"HTTP/1.1 100 Continue\r\n\r\n"
    early_hints = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
    final_to_head = b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n"
    final_to_get = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    data = continue_ + early_hints + final_to_head + final_to_get
    messages = feed_all(framer, one_byte_at_a_time(data))
    assert [m.raw for m in messages] == [continue_, early_hints, final_to_head, final_to_get]
    assert [m.head.status for m in messages] == [100, 103, 200, 200]


def test_101_switches_to_opaque_and_keeps_later_bytes_for_take_buffered() -> None:
    framer = Http1Framer("response")
    framer.note_request_method("GET")
    switching = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    assert framer.opaque is False
    messages = framer.feed(switching + b"\x81\x05hello")
    assert [m.raw for m in messages] == [switching]
    assert framer.opaque is True
    assert framer.feed(b"HTTP/1.1 200 OK\r\n\r\n") == []
    assert framer.take_buffered() == b"\x81\x05helloHTTP/1.1 200 OK\r\n\r\n"
    assert framer.opaque is True
    assert framer.take_buffered() == b""


def test_2xx_to_connect_becomes_opaque_but_a_refusal_does_not() -> None:
    refused = b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n"
    accepted = b"HTTP/1.1 200 Connection established\r\n\r\n"
    framer = Http1Framer("response")
    framer.note_request_method("CONNECT")
    framer.note_request_method("CONNECT")
    assert [m.raw for m in framer.feed(refused)] == [refused]
    assert framer.opaque is False
    assert [m.raw for m in framer.feed(accepted + b"\x16\x03\x01")] == [accepted]
    assert framer.opaque is True
    assert framer.take_buffered() == b"\x16\x03\x01"


def test_request_side_can_be_told_to_become_opaque() -> None:
    framer = Http1Framer("request")
    assert framer.feed(b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")[0].head.target == "/chat"
    framer.enter_opaque()
    assert framer.feed(b"\x81\x80garbage") == []
    assert framer.take_buffered() == b"\x81\x80garbage"


def test_response_without_length_runs_until_close() -> None:
    response = b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of this\r\n\r\nis body"
    framer = Http1Framer("response")
    assert framer.feed(response) == []
    messages = framer.feed_eof()
    assert [m.raw for m in messages] == [response]
    with pytest.raises(HttpFramingError, match="after end of stream"):
        framer.feed(b"x")


def test_response_with_non_chunked_final_coding_runs_until_close() -> None:
    response = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b0\r\n\r\n"
    framer = Http1Framer("response")
    assert framer.feed(response) == []
    assert [m.raw for m in framer.feed_eof()] == [response]


def test_request_without_length_has_no_body_and_empty_lines_before_it_are_kept() -> None:
    framer = Http1Framer("request")
    data = b"\r\n\r\nGET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    messages = feed_all(framer, one_byte_at_a_time(data))
    assert [m.raw for m in messages] == [b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", b"GET /2 HTTP/1.1\r\n\r\n"]
    assert messages[0].head.target == "/"


def test_message_cut_by_close_is_not_reported_but_its_bytes_are_kept() -> None:
    framer = Http1Framer("response")
    framer.note_request_method("GET")
    partial = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
    assert framer.feed(partial) == []
    assert framer.feed_eof() == []
    assert framer.take_buffered() == partial


def test_take_buffered_mid_message_restarts_framing_at_the_next_byte() -> None:
    framer = Http1Framer("request")
    assert framer.feed(b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab") == []
    assert framer.take_buffered() == b"POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"
    assert [m.raw for m in framer.feed(GET)] == [GET]


def test_identical_repeated_content_length_is_accepted() -> None:
    message = b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc"
    assert [m.raw for m in Http1Framer("request").feed(message)] == [message]


@pytest.mark.parametrize(
    ("role", "data", "problem"),
    [
        ("request", b"GET /a\r\n\r\n", "malformed request line"),
        ("request", b"GET  /a HTTP/1.1\r\n\r\n", "malformed request line"),
        ("request", b"G(T /a HTTP/1.1\r\n\r\n", "malformed request line"),
        ("request", b"GET /a HTTP/1.1\r\nNoColon\r\n\r\n", "malformed header line"),
        ("request", b"GET /a HTTP/1.1\r\nBad Name: v\r\n\r\n", "malformed header line"),
        ("request", b"GET /a HTTP/1.1\r\nA: 1\r\n  folded\r\n\r\n", "obsolete line folding"),
        ("request", b"GET /a HTTP/1.1\r\nA: x\ny\r\n\r\n", "invalid byte in value of header 'A'"),
        ("request", b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "conflicting"),
        ("request", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length '-1'"),
        ("request", b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", "invalid Content-Length"),
        ("request", b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", "invalid Content-Length ''"),
        ("request", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "must end with a single chunked"),
        (
            "request",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
            "must end with a single chunked",
        ),
        ("request", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "invalid chunk size"),
        ("request", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n;x\r\n", "invalid chunk size"),
        (
            "request",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd",
            "not followed by CRLF",
        ),
        (
            "request",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad trailer\r\n\r\n",
            "malformed header line",
        ),
        ("response", b"HTTP/1.1 OK\r\n\r\n", "malformed status line"),
        ("response", b"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"),
        ("response", b"HTTP/1.1 099 Low\r\n\r\n", "status code 99 out of range"),
        ("response", b"ICY 200 OK\r\n\r\n", "malformed status line"),
    ],
)
def test_malformed_input_raises_a_framing_error_that_says_what(role: Role, data: bytes, problem: str) -> None:
    with pytest.raises(HttpFramingError, match=problem.replace("(", r"\(")):
        Http1Framer(role).feed(data)


def test_header_block_over_the_limit_is_an_error_even_before_it_ends() -> None:
    framer = Http1Framer("request", max_head_bytes=100)
    framer.feed(b"GET / HTTP/1.1\r\n" + b"A: " + b"x" * 80)
    with pytest.raises(HttpFramingError, match="header section exceeds 100 bytes"):
        framer.feed(b"x" * 10)


def test_header_block_at_the_limit_is_accepted() -> None:
    head = b"GET / HTTP/1.1\r\nA: " + b"x" * 77 + b"\r\n\r\n"
    assert len(head) == 100
    assert [m.raw for m in Http1Framer("request", max_head_bytes=100).feed(head)] == [head]


def test_endless_chunk_size_line_is_an_error() -> None:
    framer = Http1Framer("request", max_head_bytes=64)
    framer.feed(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
    with pytest.raises(HttpFramingError, match="chunk-size line exceeds 64 bytes"):
        framer.feed(b"1;" + b"e" * 100)


class CountingBuffer(bytearray):
    """The framer's buffer, counting the bytes its searches pass over and its slices copy.

    Work counted, not time measured: the bound holds on any machine, however slow or busy.
    """

    touched = 0

    def find(self, sub: object, start: object = None, end: object = None) -> int:  # type: ignore[override]
        found = super().find(sub, start, end)  # type: ignore[arg-type]
        begin = 0 if start is None else int(start)  # type: ignore[call-overload]
        stop = len(self) if found < 0 else found + len(sub)  # type: ignore[arg-type]
        self.touched += max(0, stop - begin)
        return found

    def __getitem__(self, key: object) -> object:  # type: ignore[override]
        item = super().__getitem__(key)  # type: ignore[index]
        if isinstance(key, slice):
            self.touched += len(item)  # type: ignore[arg-type]
        return item


def test_large_bodies_are_framed_in_linear_time() -> None:
    """A framer that rescanned or copied its buffer on every feed would touch gigabytes here."""
    body = b"y" * (16 * 1024 * 1024)
    length_message = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    chunk = b"1000\r\n" + b"z" * 4096 + b"\r\n"
    chunked_message = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 4096 + b"0\r\n\r\n"
    pipelined = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" * 20_000
    framer = Http1Framer("response")
    buffer = framer._buf = CountingBuffer()
    data = length_message + chunked_message
    messages = feed_all(framer, [data[i : i + 4096] for i in range(0, len(data), 4096)])
    messages += framer.feed(pipelined)
    assert framer._buf is buffer  # the count saw every search and copy the framer made
    assert [len(m.raw) for m in messages[:2]] == [len(length_message), len(chunked_message)]
    assert messages[0].raw == length_message
    assert len(messages) == 20_002
    fed = len(data) + len(pipelined)
    assert fed <= buffer.touched <= 4 * fed  # each message is copied out once; nothing is rescanned


# -- properties ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """A generated message: its bytes, what the framer should parse, and the method it answers."""

    raw: bytes
    method: str | None
    target: str | None
    status: int | None
    headers: list[tuple[str, str]]
    request_method: str  # for responses: the method of the request this answers


tokens = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!", min_size=1, max_size=12
)
field_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=20
).map(lambda v: v.strip(" \t"))
extra_headers = st.lists(
    st.tuples(tokens, field_values).filter(
        lambda h: h[0].lower() not in ("content-length", "transfer-encoding")
    ),
    max_size=4,
)
bodies = st.binary(max_size=300)


@st.composite
def chunked_body(draw: st.DrawFn, body: bytes) -> bytes:
    """Encode ``body`` in random chunks with random extensions and trailers."""
    out = bytearray()
    rest = body
    while rest:
        size = draw(st.integers(min_value=1, max_value=len(rest)))
        ext = draw(st.sampled_from([b"", b";a", b";a=b", b' ; q="x;y"']))
        hex_size = draw(st.sampled_from([b"%x", b"%X", b"00%x"])) % size
        out += hex_size + ext + b"\r\n" + rest[:size] + b"\r\n"
        rest = rest[size:]
    out += b"0" + draw(st.sampled_from([b"", b";end"])) + b"\r\n"
    for name, value in draw(extra_headers):
        out += name.encode() + b": " + value.encode("latin-1") + b"\r\n"
    return bytes(out + b"\r\n")


@st.composite
def messages_of(draw: st.DrawFn, role: Role, last: bool) -> Expected:
    """One message of ``role``; only the last response of a stream may run until close."""
    headers = draw(extra_headers)
    body = draw(bodies)
    framings = ["length", "chunked", "none"] + (["until_close"] if role == "response" and last else [])
    framing = draw(st.sampled_from(framings))
    if role == "request":
        method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]))
        target = "/" + draw(tokens)
        start = f"{method} {target} HTTP/1.1"
        request_method, status = method, None
    else:
        request_method = draw(st.sampled_from(["GET", "POST", "HEAD"]))
        status = draw(st.sampled_from([200, 201, 204, 304, 404, 409, 500]))
        version = draw(st.sampled_from(["1.0", "1.1"]))
        reason = draw(st.sampled_from(["", "OK", "Some Reason"]))
        start = f"HTTP/{version} {status} {reason}"
        method, target = None, None
    no_body_response = role == "response" and (request_method == "HEAD" or status in (204, 304))
    if framing == "length":
        headers = [*headers, ("Content-Length", str(len(body)))]
    elif framing == "chunked":
        headers = [*headers, ("Transfer-Encoding", "chunked")]
    if no_body_response or framing == "none":
        encoded = b""
        if framing == "none" and role == "response" and not no_body_response:
            headers = [*headers, ("Content-Length", "0")]
    elif framing == "chunked":
        encoded = draw(chunked_body(body))
    else:
        encoded = body
    head = start.encode() + b"\r\n"
    for name, value in headers:
        head += name.encode() + b":" + draw(st.sampled_from([b"", b" ", b" \t"])) + value.encode("latin-1")
        head += b"\r\n"
    return Expected(head + b"\r\n" + encoded, method, target, status, headers, request_method)


@st.composite
def streams(draw: st.DrawFn, role: Role) -> list[Expected]:
    count = draw(st.integers(min_value=1, max_value=5))
    return [draw(messages_of(role, last=i == count - 1)) for i in range(count)]


@st.composite
def cuts(draw: st.DrawFn, data: bytes) -> list[bytes]:
    points = sorted(draw(st.lists(st.integers(min_value=0, max_value=len(data)), max_size=12)))
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@pytest.mark.parametrize("role", ["request", "response"])
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_stream_cut_anywhere_frames_back_into_its_messages(role: Role, data: st.DataObject) -> None:
    expected = data.draw(streams(role))
    stream = b"".join(m.raw for m in expected)
    framer = Http1Framer(role)
    for message in expected:
        framer.note_request_method(message.request_method)
    got = feed_all(framer, data.draw(cuts(stream)), eof=True)
    assert [m.raw for m in got] == [m.raw for m in expected]
    assert [(m.head.method, m.head.target, m.head.status, m.head.headers) for m in got] == [
        (m.method, m.target, m.status, m.headers) for m in expected
    ]
    assert all(m.raw.startswith(m.head.raw) for m in got)
    assert framer.take_buffered() == b""
