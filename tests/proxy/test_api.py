"""The control API against Toxiproxy 2.x's paths, JSON shapes and status codes, with plain httpx."""

from __future__ import annotations

import socket

import httpx
import pytest

from proxy.proxy_helpers import ProxyHandle, Upstream, make_proxy, recv_exactly


def test_version_is_toxiproxy_shaped_and_names_our_http_toxics(api: httpx.Client) -> None:
    response = api.get("/version")
    assert response.status_code == 200
    data = response.json()
    assert data["version"].startswith("2.")
    assert data["http_toxics"] == ["drop_response", "http_error", "http_latency"]


def test_create_proxy_with_port_0_reports_the_real_port(api: httpx.Client, echo: Upstream) -> None:
    response = api.post("/proxies", json={"name": "a", "upstream": echo.hostport, "listen": "127.0.0.1:0"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"name", "listen", "upstream", "enabled", "toxics"}
    assert body["name"] == "a" and body["upstream"] == echo.hostport and body["enabled"] is True
    assert body["toxics"] == []
    host, port = body["listen"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"


def test_create_without_listen_defaults_to_loopback_any_port(api: httpx.Client, echo: Upstream) -> None:
    response = api.post("/proxies", json={"name": "a", "upstream": echo.hostport})
    assert response.status_code == 201
    assert response.json()["listen"].startswith("127.0.0.1:")


def test_create_disabled_proxy_does_not_listen(api: httpx.Client, echo: Upstream) -> None:
    response = api.post("/proxies", json={"name": "a", "upstream": echo.hostport, "enabled": False})
    assert response.status_code == 201
    assert response.json()["enabled"] is False


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
        ({"name": "x"}, 400, "missing required field: upstream"),
        ({"name": 3, "upstream": "127.0.0.1:1"}, 400, "name must be a string"),
        ({"name": "x", "upstream": "nohostport"}, 400, "upstream must be host:port"),
        ({"name": "x", "upstream": "127.0.0.1:1", "listen": "127.0.0.1:99999"}, 400, "0..65535"),
        ({"name": "x", "upstream": "127.0.0.1:1", "enabled": "yes"}, 400, "enabled must be true or false"),
        ({"name": "x", "upstream": "127.0.0.1:1", "listen": "192.0.2.1:0"}, 400, "--allow-remote"),
        ({"name": "a/b", "upstream": "127.0.0.1:1"}, 400, "name must not contain '/', '{' or '}'"),
        ({"name": "{x}", "upstream": "127.0.0.1:1"}, 400, "name must not contain '/', '{' or '}'"),
        ({"name": "x}", "upstream": "127.0.0.1:1"}, 400, "name must not contain '/', '{' or '}'"),
        ([1, 2], 400, "expected a JSON object"),
    ],
)
def test_create_proxy_rejects_bad_bodies(api: httpx.Client, body: object, status: int, fragment: str) -> None:
    response = api.post("/proxies", json=body)
    assert response.status_code == status
    assert response.json()["status"] == status
    assert fragment in response.json()["error"]
    assert api.get("/proxies").json() == {}


def test_every_interface_listen_is_narrowed_to_loopback(api: httpx.Client, echo: Upstream) -> None:
    """Chaos Toolkit's default listen address works without --allow-remote, on loopback only."""
    response = api.post("/proxies", json={"name": "ctk", "upstream": echo.hostport, "listen": "0.0.0.0:0"})
    assert response.status_code == 201, response.text
    host, port = response.json()["listen"].rsplit(":", 1)
    assert host == "127.0.0.1"
    assert api.get("/proxies/ctk").json()["listen"] == f"127.0.0.1:{port}"
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    moved = api.post("/proxies/ctk", json={"listen": "0.0.0.0:0"})
    assert moved.status_code == 200 and moved.json()["listen"].startswith("127.0.0.1:")


def test_malformed_json_is_400(api: httpx.Client) -> None:
    response = api.post("/proxies", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["error"].startswith("bad request body: invalid JSON")


def test_duplicate_proxy_is_409(api: httpx.Client, echo_proxy: ProxyHandle, echo: Upstream) -> None:
    response = api.post("/proxies", json={"name": "echo", "upstream": echo.hostport})
    assert response.status_code == 409
    assert response.json() == {"error": "proxy already exists", "status": 409}


def test_port_in_use_is_500_and_others_keep_working(
    api: httpx.Client, echo_proxy: ProxyHandle, echo: Upstream
) -> None:
    taken = f"127.0.0.1:{echo_proxy.port}"
    response = api.post("/proxies", json={"name": "clash", "upstream": echo.hostport, "listen": taken})
    assert response.status_code == 500
    assert "address already in use" in response.json()["error"]
    assert "clash" not in api.get("/proxies").json()
    with echo_proxy.connect() as sock:
        sock.sendall(b"still")
        assert sock.recv(5) == b"still"


def test_index_show_update_delete(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    index = api.get("/proxies")
    assert index.status_code == 200
    assert list(index.json()) == ["echo"]
    shown = api.get("/proxies/echo")
    assert shown.status_code == 200 and shown.json() == index.json()["echo"]
    assert api.get("/proxies/nope").json() == {"error": "proxy not found", "status": 404}
    patched = api.patch("/proxies/echo", json={"enabled": False})
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    posted = api.post("/proxies/echo", json={"enabled": True})
    assert posted.status_code == 200 and posted.json()["enabled"] is True
    assert posted.json()["listen"] == shown.json()["listen"]  # re-enabled on the same port
    assert api.patch("/proxies/nope", json={}).status_code == 404
    assert api.delete("/proxies/echo").status_code == 204
    assert api.delete("/proxies/echo").status_code == 404
    assert api.get("/proxies").json() == {}


def test_disabled_proxy_refuses_new_and_closes_live_connections(
    api: httpx.Client, echo_proxy: ProxyHandle
) -> None:
    live = echo_proxy.connect()
    live.sendall(b"a")
    assert live.recv(1) == b"a"
    assert api.post("/proxies/echo", json={"enabled": False}).status_code == 200
    assert live.recv(10) == b""  # closed by the proxy
    live.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", echo_proxy.port), timeout=5)
    api.post("/proxies/echo", json={"enabled": True})
    with echo_proxy.connect() as again:
        again.sendall(b"b")
        assert again.recv(1) == b"b"


def test_update_upstream_moves_new_connections(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    response = api.patch("/proxies/echo", json={"upstream": "127.0.0.1:1"})
    assert response.status_code == 200 and response.json()["upstream"] == "127.0.0.1:1"
    with echo_proxy.connect() as sock:
        assert sock.recv(10) == b""  # upstream unreachable: the client is closed, nothing crashes


def test_populate_creates_then_is_idempotent(api: httpx.Client, echo: Upstream) -> None:
    body = [
        {"name": "one", "upstream": echo.hostport, "listen": "127.0.0.1:0"},
        {"name": "two", "upstream": echo.hostport},
    ]
    first = api.post("/populate", json=body)
    assert first.status_code == 201
    assert [p["name"] for p in first.json()["proxies"]] == ["one", "two"]
    second = api.post("/populate", json=body)
    assert second.status_code == 201
    assert second.json() == first.json()  # same proxies, same ports: nothing was recreated
    changed = api.post("/populate", json=[{"name": "one", "upstream": "127.0.0.1:1"}])
    assert changed.status_code == 201
    assert changed.json()["proxies"][0]["upstream"] == "127.0.0.1:1"


def test_populate_reports_proxies_made_before_a_failure(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    taken = f"127.0.0.1:{echo_proxy.port}"
    body = [
        {"name": "fine", "upstream": "127.0.0.1:1"},
        {"name": "clash", "upstream": "127.0.0.1:1", "listen": taken},
    ]
    response = api.post("/populate", json=body)
    assert response.status_code == 500
    data = response.json()
    assert data["status"] == 500 and "address already in use" in data["error"]
    assert [p["name"] for p in data["proxies"]] == ["fine"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"name": "x"}, "populate expects a JSON array"),
        ([{"upstream": "127.0.0.1:1"}], "missing required field: name at proxy 1"),
        ([{"name": "ok", "upstream": "127.0.0.1:1"}, {"name": "y"}], "upstream at proxy 2"),
    ],
)
def test_populate_rejects_bad_bodies(api: httpx.Client, body: object, fragment: str) -> None:
    response = api.post("/populate", json=body)
    assert response.status_code == 400
    assert fragment in response.json()["error"]
    assert api.get("/proxies").json() == {}  # validated before creating anything


def test_toxic_crud(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    created = api.post("/proxies/echo/toxics", json={"type": "latency", "attributes": {"latency": 10}})
    assert created.status_code == 200
    assert created.json() == {
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"latency": 10, "jitter": 0},
    }
    assert api.get("/proxies/echo/toxics").json() == [created.json()]
    assert api.get("/proxies/echo").json()["toxics"] == [created.json()]
    assert api.get("/proxies/echo/toxics/latency_downstream").json() == created.json()
    duplicate = api.post("/proxies/echo/toxics", json={"type": "latency"})
    assert duplicate.status_code == 409 and duplicate.json()["error"] == "toxic already exists"
    updated = api.patch("/proxies/echo/toxics/latency_downstream", json={"attributes": {"jitter": 5}})
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"latency": 10, "jitter": 5}  # merged, as Toxiproxy does
    posted = api.post("/proxies/echo/toxics/latency_downstream", json={"toxicity": 0.5})
    assert posted.json()["toxicity"] == 0.5 and posted.json()["attributes"]["jitter"] == 5
    assert api.delete("/proxies/echo/toxics/latency_downstream").status_code == 204
    assert api.delete("/proxies/echo/toxics/latency_downstream").json() == {
        "error": "toxic not found",
        "status": 404,
    }
    assert api.get("/proxies/echo/toxics/latency_downstream").status_code == 404
    assert api.patch("/proxies/echo/toxics/gone", json={}).status_code == 404
    assert api.get("/proxies/nope/toxics").status_code == 404
    assert api.post("/proxies/nope/toxics", json={"type": "latency"}).status_code == 404


def test_toxic_named_and_upstream(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    response = api.post(
        "/proxies/echo/toxics",
        json={
            "name": "slow",
            "type": "bandwidth",
            "stream": "UpStream",
            "toxicity": 0,
            "attributes": {"rate": 5},
        },
    )
    assert response.status_code == 200
    assert response.json() == {
        "name": "slow",
        "type": "bandwidth",
        "stream": "UpStream",  # as sent, as Toxiproxy answers
        "toxicity": 0.0,
        "attributes": {"rate": 5},
    }


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"type": "nope"}, "invalid toxic type"),
        ({"type": "latency", "stream": "sideways"}, "stream was invalid"),
        ({"type": "latency", "toxicity": 1.5}, "toxicity must be a number from 0 to 1"),
        ({"type": "latency", "toxicity": "1"}, "toxicity must be a number from 0 to 1"),
        (
            {"type": "latency", "attributes": {"latency": -1}},
            "latency: Input should be greater than or equal to 0",
        ),
        ({"type": "latency", "attributes": {"latency": "100"}}, "latency: Input should be a valid integer"),
        ({"type": "latency", "attributes": {"latency": 10**12}}, "less than or equal to 3600000"),
        ({"type": "latency", "attributes": [1]}, "attributes must be an object"),
        (
            {"type": "drop_response", "attributes": {"mode": "explode"}},
            "mode: Input should be 'reset', 'close' or 'hang'",
        ),
        (
            {"type": "slicer", "attributes": {"average_size": 4, "size_variation": 5}},
            "attributes: size_variation (5) must not exceed average_size (4)",
        ),
        ({"type": "http_error", "attributes": {"status": 42}}, "status"),
        ({"type": "limit_data", "attributes": {"bytes": 1.5}}, "bytes: Input should be a valid integer"),
    ],
)
def test_bad_toxics_are_400_with_a_message(
    api: httpx.Client, echo_proxy: ProxyHandle, body: object, fragment: str
) -> None:
    response = api.post("/proxies/echo/toxics", json=body)
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert fragment in response.json()["error"]
    assert api.get("/proxies/echo/toxics").json() == []


def test_what_toxiproxy_accepts_is_accepted(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    """Null attributes (the defaults), unknown attributes (ignored), slicer variation = average."""
    none = api.post("/proxies/echo/toxics", json={"type": "latency", "attributes": None})
    assert none.status_code == 200, none.text
    assert none.json()["attributes"] == {"latency": 0, "jitter": 0}
    unknown = api.post(
        "/proxies/echo/toxics", json={"type": "bandwidth", "attributes": {"rate": 7, "burst": 1}}
    )
    assert unknown.status_code == 200, unknown.text
    assert unknown.json()["attributes"] == {"rate": 7}
    equal = api.post(
        "/proxies/echo/toxics",
        json={"type": "slicer", "stream": "upstream", "attributes": {"average_size": 8, "size_variation": 8}},
    )
    assert equal.status_code == 200, equal.text
    patched = api.post("/proxies/echo/toxics/latency_downstream", json={"attributes": None, "toxicity": 0.5})
    assert patched.status_code == 200, patched.text
    assert patched.json()["attributes"] == {"latency": 0, "jitter": 0}
    with echo_proxy.connect() as sock:  # the slicer works with variation = average
        sock.sendall(b"x" * 100)
        assert recv_exactly(sock, 100) == b"x" * 100


def test_stream_is_answered_as_sent(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    response = api.post("/proxies/echo/toxics", json={"type": "latency", "stream": "UpStream"})
    assert response.status_code == 200, response.text
    assert response.json()["stream"] == "UpStream"
    assert response.json()["name"] == "latency_UpStream"
    assert api.get("/proxies/echo/toxics/latency_UpStream").json()["stream"] == "UpStream"


def test_bad_toxic_update_keeps_the_toxic(api: httpx.Client, echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("latency", latency=5)
    response = api.patch("/proxies/echo/toxics/latency_downstream", json={"attributes": {"latency": -5}})
    assert response.status_code == 400
    assert api.get("/proxies/echo/toxics/latency_downstream").json()["attributes"]["latency"] == 5


def test_reset_reenables_and_removes_toxics(api: httpx.Client, echo: Upstream) -> None:
    one = make_proxy(api, echo.hostport, "one")
    make_proxy(api, echo.hostport, "two")
    one.add_toxic("latency", latency=1000)
    api.post("/proxies/two", json={"enabled": False})
    assert api.post("/reset").status_code == 204
    proxies = api.get("/proxies").json()
    assert [(p["enabled"], p["toxics"]) for p in proxies.values()] == [(True, []), (True, [])]
    with one.connect() as sock:
        sock.sendall(b"fast")
        assert sock.recv(4) == b"fast"


def test_unknown_route_and_method_are_json_errors(api: httpx.Client) -> None:
    missing = api.get("/nothing")
    assert missing.status_code == 404 and missing.json()["status"] == 404
    wrong = api.put("/proxies")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405
