"""One keep-alive HTTP/1.1 connection of a load user: a gevent socket and geventhttpclient's C parser.

Why not requests (Locust's ``HttpUser``): it costs the driver about a millisecond of CPU per request,
so the load generator, not the target, bounded a run's rate (``make bench-load``). Why not
geventhttpclient's own ``HTTPClient`` (Locust's ``FastHttpUser``): it silently sends a PUT, DELETE or
GET again when its connection closes without an answer, and an attempt the history does not know of
would hide exactly what the harness measures.

Here each call sends its request exactly once, on at most one connection, and what went wrong says
whether the request can have left: only a connect that failed (``ConnectionRefusedError`` above all)
means nothing was sent. After any error the connection is closed, so the next request opens a fresh
one and never reads the rest of an answer left behind. A connection the server closed while idle is
noticed before it is reused (as urllib3 does), so a keep-alive timeout on the server is no failure.

Imports gevent: the driver process only (see ``user.py``).
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.client import RemoteDisconnected
from urllib.parse import unquote, urlsplit

from gevent import monkey
from gevent import socket as gevent_socket
from gevent import ssl as gevent_ssl
from geventhttpclient._parser import HTTPParseError
from geventhttpclient.response import HTTPResponse

from harness.load.transport import AnswerCutShort, MalformedAnswer

RECEIVE_BYTES = 64 * 1024
USER_AGENT = "idempotency-harness-load"
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods sent without ``Content-Length: 0`` when they carry no body (as requests does)."""
_unpatched_select = monkey.get_original("select", "select")
"""A zero-timeout readiness check is one system call; gevent's own select would switch greenlets."""


@dataclass(frozen=True)
class Answer:
    """One HTTP answer: status, headers (repeated ones joined with ``", "``, as requests does) and body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        """The decoded JSON body, or ``None`` when the answer is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:  # json's JSONDecodeError and UnicodeDecodeError are ValueErrors
            return None


class _Parser(HTTPResponse):
    """geventhttpclient's parser, keeping the body it is fed (its ``_on_body`` is the C parser's callback)."""

    def __init__(self, method: str) -> None:
        super().__init__(method=method)
        self.body = bytearray()

    def _on_body(self, buf: bytearray) -> None:
        self.body += buf


class HttpConnection:
    """Sends requests to ``base_url`` one at a time on one keep-alive connection, opened when needed."""

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        self.base_url = base_url
        fixed = {"Host": parts.netloc.rpartition("@")[2], "User-Agent": USER_AGENT,
                 "Accept": "*/*", "Accept-Encoding": "identity"}  # fmt: skip
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            fixed["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        self._fixed_lines = tuple((name.lower(), f"{name}: {value}\r\n") for name, value in fixed.items())
        self._fixed_names = frozenset(name for name, _ in self._fixed_lines)
        self._fixed_text = "".join(line for _, line in self._fixed_lines)
        """The fixed header lines, formatted once: every request that replaces none of them sends these."""
        self._sock: socket.socket | None = None

    def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes | None, timeout_s: float
    ) -> Answer:
        """Send one request and read its whole answer; every socket operation waits at most ``timeout_s``.

        Raises ``OSError``: ``ConnectionRefusedError`` (nothing sent), ``TimeoutError``,
        ``ConnectionResetError``, ``BrokenPipeError``, ``RemoteDisconnected`` (closed before any byte of
        an answer), :class:`AnswerCutShort` or :class:`MalformedAnswer`; the connection is closed then.
        """
        return self.exchange(method, self.message(method, path, headers, body), timeout_s)

    def message(self, method: str, path: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
        """The request's bytes as :meth:`exchange` sends them: request line, headers and body.

        The caller's headers replace the fixed ones of the same name (any case); a Content-Length
        of theirs is dropped for the body's own.
        """
        head = self._head(method, self.prefix + path, headers, body)
        return head + body if body else head

    def exchange(self, method: str, message: bytes, timeout_s: float) -> Answer:
        """Send a request's bytes (:meth:`message`, built once and resent as they are) and read its answer.

        ``method`` is the request's, for reading the answer (a HEAD's has no body). What it raises
        and when the connection closes: as :meth:`request`.
        """
        try:
            sock = self._connected(timeout_s)
            sock.sendall(message)
            parser = self._receive(sock, method)
        except BaseException:
            self.close()
            raise
        if parser.should_close():
            self.close()
        return Answer(parser.status_code, _joined(parser.items()), bytes(parser.body))

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _connected(self, timeout_s: float) -> socket.socket:
        """The open connection, or a new one if there is none or the server has closed it while idle."""
        if self._sock is not None:
            readable, _, _ = _unpatched_select([self._sock], [], [], 0)
            if not readable:  # an idle connection with something to read has been closed (or is broken)
                self._sock.settimeout(timeout_s)
                return self._sock
            self.close()
        opened: socket.socket = gevent_socket.create_connection((self.host, self.port), timeout=timeout_s)
        opened.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            opened = gevent_ssl.create_default_context().wrap_socket(opened, server_hostname=self.host)
        self._sock = opened
        return opened

    def _head(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
        """Request line and headers: the fixed lines as formatted once, unless the caller's replace some."""
        lowered = [name.lower() for name in headers]
        if self._fixed_names.isdisjoint(lowered):
            fixed = self._fixed_text
        else:
            fixed = "".join(line for name, line in self._fixed_lines if name not in lowered)
        parts = [method, " ", target, " HTTP/1.1\r\n", fixed]
        for (name, value), lower in zip(headers.items(), lowered, strict=True):
            if lower != "content-length":
                parts += (name, ": ", value, "\r\n")
        if body or method not in _NO_BODY_METHODS:
            parts += ("Content-Length: ", str(len(body) if body else 0), "\r\n")
        parts.append("\r\n")
        return "".join(parts).encode("latin-1")

    def _receive(self, sock: socket.socket, method: str) -> _Parser:
        """Read one whole answer (skipping interim 1xx ones), telling an early close from a cut answer."""
        parser = _Parser(method)
        received = False
        while not (parser.message_complete and parser.status_code >= 200):
            data = sock.recv(RECEIVE_BYTES)
            if not data and not received:
                raise RemoteDisconnected("connection closed without a response")
            try:
                parser.feed(data)  # an empty feed ends a body that runs to the close, or fails
            except HTTPParseError as error:
                problem = AnswerCutShort if not data else MalformedAnswer
                raise problem(f"{error.args[0] if error.args else error}") from error
            if not data:
                if not parser.message_complete:
                    raise AnswerCutShort("connection closed before the end of the answer")
                break
            received = True
        return parser


def _joined(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in items:
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def encode_json(value: object) -> bytes:
    """A JSON body as requests encodes ``json=``: default separators, no NaN."""
    return json.dumps(value, allow_nan=False).encode()
