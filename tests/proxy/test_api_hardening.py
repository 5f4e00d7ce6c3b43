"""What a hostile or broken caller can do to the control API: answered in one line, the server unharmed."""

from __future__ import annotations

import logging
import select
import socket
import time
from pathlib import Path

import httpx
import pytest

from harness.ports import free_port
from harness.proxy.background import BackgroundProxyServer
from harness.proxy.jsonbody import MAX_DEPTH
from proxy.proxy_helpers import ProxyHandle, Upstream, recv_until_closed
from proxy.test_embedded import run_cli


def api_socket(server: BackgroundProxyServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=5)


def test_deeply_nested_json_is_a_400_not_a_500(api: httpx.Client) -> None:
    for depth in (MAX_DEPTH + 1, 20_000):
        response = api.post("/proxies", content=b"[" * depth + b"]" * depth)
        assert response.status_code == 400, response.text
        assert response.json() == {
            "error": f"bad request body: invalid JSON: nested deeper than {MAX_DEPTH} levels",
            "status": 400,
        }
    assert api.get("/version").status_code == 200


def test_a_body_that_is_not_utf8_is_a_400(api: httpx.Client) -> None:
    response = api.post("/proxies", content='{"name": "x"}'.encode("utf-16"))
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad request body: invalid JSON: not UTF-8")


def test_an_unfinished_request_head_is_closed_within_seconds(proxy_server: BackgroundProxyServer) -> None:
    """Slowloris: a connection that never finishes its head must not be held open."""
    with api_socket(proxy_server) as sock:
        sock.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
        start = time.monotonic()
        readable, _, _ = select.select([sock], [], [], 15)
        assert readable, "still open after 15 s"
        sock.settimeout(5)
        assert recv_until_closed(sock) == b""
        assert time.monotonic() - start < 15


def test_a_malformed_request_is_one_log_line(
    proxy_server: BackgroundProxyServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    with api_socket(proxy_server) as sock:
        sock.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        assert recv_until_closed(sock).startswith(b"HTTP/1.")
    records = [r for r in caplog.records if r.name.startswith("aiohttp")]
    assert records, "the bad request was not logged"
    for record in records:
        assert record.exc_info is None and record.exc_text is None
        assert "\n" not in record.getMessage()


def test_a_binary_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_bytes(b"\xff\xfe\x00\x01binary")
    result = run_cli("--port", "0", "--config", str(config))
    assert result.returncode == 2
    reason = "bad request body: invalid JSON: not UTF-8 (invalid start byte at byte 0)"
    assert result.stderr.strip().splitlines() == [f"error: proxy config {config}: {reason}"]


@pytest.mark.parametrize("upstream_host", ["127.0.0.1", "localhost", "0.0.0.0"])
def test_a_proxy_to_its_own_listen_address_is_refused(api: httpx.Client, upstream_host: str) -> None:
    port = free_port()
    response = api.post(
        "/proxies",
        json={"name": "loop", "listen": f"127.0.0.1:{port}", "upstream": f"{upstream_host}:{port}"},
    )
    assert response.status_code == 400
    assert "is this proxy's own listen address" in response.json()["error"]
    assert api.get("/proxies").json() == {}


def test_updating_a_proxy_into_a_loop_is_refused_and_changes_nothing(
    api: httpx.Client, echo_proxy: ProxyHandle, echo: Upstream
) -> None:
    response = api.post("/proxies/echo", json={"upstream": f"127.0.0.1:{echo_proxy.port}"})
    assert response.status_code == 400
    assert "is this proxy's own listen address" in response.json()["error"]
    shown = api.get("/proxies/echo").json()
    assert shown["upstream"] == echo.hostport and shown["enabled"] is True
    with echo_proxy.connect() as sock:
        sock.sendall(b"still")
        assert sock.recv(5) == b"still"


def test_a_loop_found_only_at_connect_time_is_ended(
    api: httpx.Client, echo_proxy: ProxyHandle, proxy_server: BackgroundProxyServer
) -> None:
    """``127.1`` is 127.0.0.1 only once resolved: the first connection finds the loop and ends it."""
    assert api.post("/proxies/echo", json={"upstream": f"127.1:{echo_proxy.port}"}).status_code == 200
    with echo_proxy.connect() as sock:
        assert recv_until_closed(sock) == b""
    with echo_proxy.connect() as sock:  # the proxy now closes new connections at once
        assert recv_until_closed(sock) == b""
    assert proxy_server.server is not None
    live = proxy_server.server.collection.proxies["echo"].connections
    deadline = time.monotonic() + 5
    while live and time.monotonic() < deadline:  # no chain of connections keeps itself going
        select.select([], [], [], 0.05)
    assert not live
    assert api.get("/version").status_code == 200
