"""ProxyClient, the harness's synchronous client, against the embedded server and against failures."""

from __future__ import annotations

import socket

import httpx
import pytest

from harness.errors import ProxyApiError
from harness.proxy.background import BackgroundProxyServer
from harness.proxy.client import ProxyClient, ProxyInfo
from proxy.proxy_helpers import Upstream, recv_exactly


@pytest.fixture
def client(proxy_server: BackgroundProxyServer, api: httpx.Client) -> ProxyClient:
    return ProxyClient(proxy_server.url)


def test_full_cycle(client: ProxyClient, echo: Upstream) -> None:
    assert client.version().startswith("2.")
    assert client.supports_http_toxics() is True
    info = client.create_proxy("c", upstream=echo.hostport)
    assert info == ProxyInfo("c", "127.0.0.1", info.listen_port, echo.hostport, True)
    assert client.proxies() == {"c": info}
    toxic = client.add_toxic("c", "drop_response", toxicity=0.25, attributes={"mode": "close", "seed": 1})
    assert toxic == {
        "name": "drop_response_downstream",
        "type": "drop_response",
        "stream": "downstream",
        "toxicity": 0.25,
        "attributes": {"mode": "close", "seed": 1},
    }
    narrowed = client.add_toxic("c", "http_error", attributes={"status": 503, "path": "/refunds"})
    assert narrowed["attributes"]["path"] == "/refunds"  # given, it reads back; not given, it is absent
    client.remove_toxic("c", narrowed["name"])
    client.add_toxic("c", "latency", stream="upstream", attributes={"latency": 1}, name="lat")
    assert [t["name"] for t in client.toxics("c")] == ["drop_response_downstream", "lat"]
    assert client.update_toxic("c", "lat", {"latency": 2})["attributes"]["latency"] == 2
    client.remove_toxic("c", "lat")
    assert client.set_enabled("c", False).enabled is False
    client.reset()
    assert client.get_proxy("c").enabled is True and client.toxics("c") == []
    with socket.create_connection(("127.0.0.1", info.listen_port), timeout=5) as sock:
        sock.sendall(b"ok")
        assert recv_exactly(sock, 2) == b"ok"
    client.delete_proxy("c")
    assert client.proxies() == {}


def test_refusals_raise_proxy_api_error_naming_the_call(client: ProxyClient, echo: Upstream) -> None:
    client.create_proxy("c", upstream=echo.hostport)
    with pytest.raises(ProxyApiError) as exists:
        client.create_proxy("c", upstream=echo.hostport)
    assert (exists.value.method, exists.value.path, exists.value.status) == ("POST", "/proxies", 409)
    assert str(exists.value) == "fault proxy refused POST /proxies: HTTP 409: proxy already exists"
    with pytest.raises(ProxyApiError) as missing:
        client.remove_toxic("c", "nope")
    assert missing.value.status == 404 and "toxic not found" in str(missing.value)
    with pytest.raises(ProxyApiError) as bad:
        client.add_toxic("c", "latency", attributes={"latency": -1})
    assert bad.value.status == 400 and "latency" in str(bad.value)


def test_unreachable_server_raises_proxy_api_error_naming_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        client = ProxyClient(f"http://127.0.0.1:{port}")
        with pytest.raises(ProxyApiError) as error:
            client.version()
    assert error.value.status == 0
    assert f"cannot reach the fault proxy at http://127.0.0.1:{port}" in str(error.value)


def test_a_server_without_http_toxics_is_detected() -> None:
    """A real Toxiproxy: ``{"version": ...}`` only, and 400 to our toxic types."""

    def toxiproxy_like(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/version":
            return httpx.Response(200, json={"version": "2.12.0"})
        return httpx.Response(400, json={"error": "invalid toxic type", "status": 400})

    client = ProxyClient("http://toxiproxy.invalid:8474")
    client._http = httpx.Client(base_url=client.url, transport=httpx.MockTransport(toxiproxy_like))
    assert client.version() == "2.12.0"
    assert client.supports_http_toxics() is False
    with pytest.raises(ProxyApiError) as error:
        client.add_toxic("p", "drop_response")
    assert "'drop_response'" in str(error.value) and "does not have it" in str(error.value)
    with pytest.raises(ProxyApiError) as refused:
        client.add_toxic("p", "bogus")
    assert refused.value.status == 400


def test_plain_text_version_of_old_toxiproxy() -> None:
    client = ProxyClient("http://old.invalid")
    client._http = httpx.Client(
        base_url=client.url, transport=httpx.MockTransport(lambda r: httpx.Response(200, text="2.1.4"))
    )
    assert client.version() == "2.1.4"
    assert client.supports_http_toxics() is False


@pytest.mark.parametrize(
    ("listen", "base_url"),
    [
        ("127.0.0.1:4567", "http://127.0.0.1:4567"),
        ("[fd00::1]:4567", "http://[fd00::1]:4567"),  # a master's IPv6 bind host
        ("0.0.0.0:4567", "http://127.0.0.1:4567"),  # a wildcard is reached on loopback here
        ("[::]:4567", "http://127.0.0.1:4567"),
    ],
)
def test_a_proxys_base_url_is_a_url_whatever_its_listen_address(listen: str, base_url: str) -> None:
    info = ProxyInfo.from_json({"name": "p", "listen": listen, "upstream": "127.0.0.1:1"})
    assert info.base_url == base_url
    assert httpx.URL(info.base_url).port == 4567
