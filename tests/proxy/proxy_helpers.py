"""Helpers for the fault proxy tests: tiny upstreams on port 0 and socket utilities.

Upstreams run on their own asyncio loop in a thread, so tests can use plain blocking sockets (the
simplest way to observe exact bytes, resets and timing) without mixing loops with the proxy's.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


class LoopThread:
    """An asyncio loop in a daemon thread, for upstream servers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


@dataclass
class Upstream:
    """A server on 127.0.0.1:port; ``requests`` lists what an HTTP upstream received."""

    port: int
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    connections: int = 0
    got_request: threading.Event = field(default_factory=threading.Event)

    @property
    def hostport(self) -> str:
        return f"127.0.0.1:{self.port}"


async def echo_handler(
    upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    upstream.connections += 1
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.write_eof()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def http_handler(
    upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    """Keep-alive HTTP/1.1: ``/chunked`` answers chunked, anything else with Content-Length."""
    upstream.connections += 1
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = dict(line.split(": ", 1) for line in lines[1:] if line)
            body = await reader.readexactly(int(headers.get("Content-Length", "0")))
            upstream.requests.append((method, path, body))
            upstream.got_request.set()
            number = len(upstream.requests)
            payload = f"response {number} to {method} {path}".encode()
            if path == "/chunked":
                half = len(payload) // 2
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + f"{half:x}\r\n".encode() + payload[:half] + b"\r\n"
                    + f"{len(payload) - half:x}\r\n".encode() + payload[half:] + b"\r\n0\r\n\r\n"
                )  # fmt: skip
            else:
                writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {len(payload)}\r\n\r\n".encode())
                if method != "HEAD":
                    writer.write(payload)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


Handler = Callable[[Upstream, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def start_upstream(loop_thread: LoopThread, handler: Handler) -> Iterator[Upstream]:
    upstream = Upstream(port=0)

    async def start() -> asyncio.Server:
        return await asyncio.start_server(lambda r, w: handler(upstream, r, w), "127.0.0.1", 0)

    server: asyncio.Server = loop_thread.run(start())
    upstream.port = server.sockets[0].getsockname()[1]
    yield upstream

    async def stop() -> None:
        server.close()

    loop_thread.run(stop())


@dataclass
class ProxyHandle:
    """A proxy created for one test, with helpers to talk through it."""

    api: httpx.Client
    name: str
    port: int

    def connect(self, timeout: float = 5.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def add_toxic(
        self, type: str, stream: str = "downstream", toxicity: float = 1.0, **attributes: object
    ) -> str:
        body = {"type": type, "stream": stream, "toxicity": toxicity, "attributes": attributes}
        response = self.api.post(f"/proxies/{self.name}/toxics", json=body)
        assert response.status_code == 200, response.text
        name: str = response.json()["name"]
        return name

    def remove_toxic(self, name: str) -> None:
        response = self.api.delete(f"/proxies/{self.name}/toxics/{name}")
        assert response.status_code == 204, response.text


def make_proxy(api: httpx.Client, upstream: str, name: str = "p") -> ProxyHandle:
    response = api.post("/proxies", json={"name": name, "upstream": upstream, "listen": "127.0.0.1:0"})
    assert response.status_code == 201, response.text
    return ProxyHandle(api, name, int(response.json()["listen"].rsplit(":", 1)[1]))


def recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def recv_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def http_exchange(
    sock: socket.socket,
    method: str = "GET",
    path: str = "/",
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> bytes:
    """Send one request and read one Content-Length or chunked response, byte-exact."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    sock.sendall(
        f"{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body
    )
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    if b"Transfer-Encoding: chunked" in head:
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed in a chunked body")
            rest += chunk
        return head + b"\r\n\r\n" + rest
    length = 0 if method == "HEAD" else int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    return head + b"\r\n\r\n" + rest + recv_exactly(sock, length - len(rest))


def elapsed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.monotonic()
    result = fn()
    return time.monotonic() - start, result
