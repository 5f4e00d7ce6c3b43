"""The load users' HTTP connection: each request sent once, failures told apart, keep-alive kept honest.

A scripted server in a thread answers each request it reads with the test's bytes and then keeps the
connection, closes it, or resets it. The connection under test runs on gevent sockets in this
(unpatched) process; gevent's hub waits on them while the server's real thread works.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.client import RemoteDisconnected
from typing import Literal

import pytest
from waiting import wait_until

from harness.load.connection import HttpConnection
from harness.load.transport import AnswerCutShort, MalformedAnswer, describe_error

Then = Literal["keep", "close", "reset"]
OK = b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"id":"c1"}'
TIMEOUT_S = 10.0
"""Far past what a local thread takes to answer: no test waits on it."""


@dataclass
class Scripted:
    """Answers request ``n`` (over all connections) with ``script[n]``; records what it read."""

    script: list[tuple[bytes, Then]]
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    connections: int = 0
    closed: int = 0
    """Connections this side has closed."""

    def serve(self, listener: socket.socket) -> None:
        while len(self.heads) < len(self.script):
            try:
                conn, _ = listener.accept()
            except OSError:  # the listener was closed: the test is over
                return
            self.connections += 1
            with conn:
                self._converse(conn)
            self.closed += 1

    def _converse(self, conn: socket.socket) -> None:
        buffer = b""
        while len(self.heads) < len(self.script):
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = _content_length(head)
            while len(buffer) < length:
                buffer += conn.recv(65536)
            self.heads.append(head)
            self.bodies.append(buffer[:length])
            buffer = buffer[length:]
            answer, then = self.script[len(self.heads) - 1]
            conn.sendall(answer)
            if then == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            if then != "keep":
                return


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


@contextmanager
def scripted(*script: tuple[bytes, Then]) -> Iterator[tuple[Scripted, str]]:
    server = Scripted(list(script))
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve, args=(listener,), daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        thread.join(timeout=5)


def header_lines(head: bytes) -> list[str]:
    return head.decode("latin-1").split("\r\n")


def test_an_answer_is_read_whole_and_the_connection_kept_for_the_next_request() -> None:
    with scripted((OK, "keep"), (OK, "keep")) as (server, url):
        connection = HttpConnection(url + "/api")
        first = connection.request("POST", "/charges", {"Idempotency-Key": "k1"}, b'{"a":1}', TIMEOUT_S)
        second = connection.request("GET", "/charges/c1", {}, None, TIMEOUT_S)
        connection.close()
    assert (first.status, first.json()) == (201, {"id": "c1"})
    assert first.headers["Content-Type"] == "application/json"
    assert second.body == b'{"id":"c1"}'
    assert server.connections == 1
    post = header_lines(server.heads[0])
    assert post[0] == "POST /api/charges HTTP/1.1"
    assert {"Idempotency-Key: k1", "Content-Length: 7", f"Host: {url.removeprefix('http://')}"} <= set(post)
    assert server.bodies == [b'{"a":1}', b""]
    assert not any(line.lower().startswith("content-length") for line in header_lines(server.heads[1]))


def test_cookies_an_answer_sets_are_never_sent_back() -> None:
    with_cookie = OK.replace(b"Content-Length", b"Set-Cookie: session=1\r\nContent-Length")
    with scripted((with_cookie, "keep"), (OK, "keep")) as (server, url):
        connection = HttpConnection(url)
        connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S)
        connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S)
        connection.close()
    assert not any(line.lower().startswith("cookie") for line in header_lines(server.heads[1]))


def test_a_connection_closed_without_an_answer_is_not_sent_again_even_for_a_put() -> None:
    with scripted((b"", "close"), (OK, "keep")) as (server, url):
        connection = HttpConnection(url)
        with pytest.raises(RemoteDisconnected) as closed:
            connection.request("PUT", "/refunds/1", {}, b"{}", TIMEOUT_S)
        assert len(server.heads) == 1  # one request reached the server, and nothing resent it
        assert describe_error(closed.value, TIMEOUT_S).text == "connection closed without a response"
        assert connection.request("PUT", "/refunds/1", {}, b"{}", TIMEOUT_S).status == 201
        connection.close()
    assert server.connections == 2


def test_a_reset_after_sending_is_a_reset_not_a_refusal() -> None:
    with scripted((b"", "reset")) as (server, url):
        connection = HttpConnection(url)
        with pytest.raises(ConnectionResetError) as reset:
            connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S)
    assert len(server.heads) == 1
    assert describe_error(reset.value, TIMEOUT_S).failure == "connection_error"


def test_a_refused_connection_sent_nothing() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionRefusedError) as refused:
        HttpConnection(f"http://127.0.0.1:{port}").request("POST", "/charges", {}, b"{}", TIMEOUT_S)
    assert describe_error(refused.value, TIMEOUT_S).failure == "connection_refused"


def test_an_answer_cut_short_and_a_malformed_one_are_named() -> None:
    cut = OK.replace(b'{"id":"c1"}', b'{"id"')
    with scripted((cut, "close"), (b"garbage\r\n\r\n", "close")) as (_, url):
        connection = HttpConnection(url)
        with pytest.raises(AnswerCutShort):
            connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S)
        with pytest.raises(MalformedAnswer):
            connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S)


def test_a_keep_alive_connection_the_server_closed_while_idle_is_replaced_before_sending() -> None:
    with scripted((OK, "close"), (OK, "keep")) as (server, url):
        connection = HttpConnection(url)
        connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S)  # kept: no close was announced
        wait_until(lambda: server.closed == 1, "the server to close the idle connection")
        assert connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S).status == 201
        connection.close()
    assert (server.connections, len(server.heads)) == (2, 2)


def test_a_body_that_runs_to_the_close_and_an_interim_answer_are_read() -> None:
    to_close = b"HTTP/1.0 200 OK\r\n\r\nplain"
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    with scripted((to_close, "close"), (interim, "keep")) as (_, url):
        connection = HttpConnection(url)
        answer = connection.request("GET", "/", {}, None, TIMEOUT_S)
        assert (answer.status, answer.body, answer.json()) == (200, b"plain", None)
        assert connection.request("POST", "/charges", {}, b"{}", TIMEOUT_S).status == 201
        connection.close()
