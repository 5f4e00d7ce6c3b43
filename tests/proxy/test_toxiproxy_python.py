"""The embedded server driven by ``toxiproxy-python``, the published Toxiproxy client for Python."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from harness.proxy.background import BackgroundProxyServer
from proxy.proxy_helpers import Upstream, recv_exactly


@pytest.fixture
def server(proxy_server: BackgroundProxyServer) -> Iterator[toxiproxy.Toxiproxy]:
    address = urlsplit(proxy_server.url)
    assert address.hostname is not None and address.port is not None
    client = toxiproxy.Toxiproxy()
    client.update_api_consumer(address.hostname, address.port)
    yield client
    client.destroy_all()
    APIConsumer.host, APIConsumer.port = "127.0.0.1", 8474


def port_of(proxy: toxiproxy.Proxy) -> int:
    return int(proxy.listen.rsplit(":", 1)[1])


def test_version_and_running(server: toxiproxy.Toxiproxy) -> None:
    assert server.running() is True
    assert b'"version": "2.' in server.version()


def test_create_list_get_destroy(server: toxiproxy.Toxiproxy, echo: Upstream) -> None:
    proxy = server.create(upstream=echo.hostport, name="tp")
    assert proxy.name == "tp" and proxy.enabled is True and port_of(proxy) > 0
    assert set(server.proxies()) == {"tp"}
    assert server.get_proxy("tp").upstream == echo.hostport
    with pytest.raises(ProxyExists):
        server.create(upstream=echo.hostport, name="tp")
    assert server.destroy(proxy) is True
    assert server.get_proxy("tp") is None
    with pytest.raises(NotFound):
        proxy.destroy()


def test_toxics_through_the_client(server: toxiproxy.Toxiproxy, echo: Upstream) -> None:
    proxy = server.create(upstream=echo.hostport, name="tp")
    proxy.add_toxic(type="latency", attributes={"latency": 150})
    assert set(proxy.toxics()) == {"latency_downstream"}
    toxic = proxy.get_toxic("latency_downstream")
    assert toxic.attributes == {"latency": 150, "jitter": 0} and toxic.toxicity == 1.0
    with socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=5) as sock:
        start = time.monotonic()
        sock.sendall(b"hi")
        assert recv_exactly(sock, 2) == b"hi"
        assert time.monotonic() - start >= 0.14
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    with pytest.raises(ProxyExists):  # toxiproxy-python maps every 409 to ProxyExists
        proxy.add_toxic(type="latency")
    proxy.destroy_toxic("latency_downstream")
    assert proxy.toxics() == {}
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")


def test_down_refuses_connections_then_recovers(server: toxiproxy.Toxiproxy, echo: Upstream) -> None:
    proxy = server.create(upstream=echo.hostport, name="tp")
    with proxy.down():
        assert server.get_proxy("tp").enabled is False
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=5)
    with socket.create_connection(("127.0.0.1", port_of(proxy)), timeout=5) as sock:
        sock.sendall(b"up")
        assert recv_exactly(sock, 2) == b"up"


def test_populate_and_reset(server: toxiproxy.Toxiproxy, echo: Upstream) -> None:
    created = server.populate([{"name": "p1", "upstream": echo.hostport, "listen": "127.0.0.1:0"}])
    assert [p.name for p in created] == ["p1"]
    proxy = server.get_proxy("p1")
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    proxy.disable()
    assert server.reset() is True
    again = server.get_proxy("p1")
    assert again.enabled is True and again.toxics() == {}
