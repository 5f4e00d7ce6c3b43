"""The per-request HTTP toxics: drop_response, http_latency, http_error, and seeded decisions."""

from __future__ import annotations

import socket
import time

import pytest
from waiting import WAIT_S

from proxy.proxy_helpers import ProxyHandle, Upstream, elapsed, http_exchange, recv_until_closed


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def test_keep_alive_requests_pass_byte_exact_with_http_toxics_present(
    http_proxy: ProxyHandle, http_upstream: Upstream
) -> None:
    http_proxy.add_toxic("drop_response", toxicity=0.0)
    http_proxy.add_toxic("http_latency", stream="upstream", toxicity=0.0, latency=1000)
    with http_proxy.connect() as sock:
        first = http_exchange(sock, "POST", "/a", b"x" * 5000)
        head = http_exchange(sock, "HEAD", "/h")
        chunked = http_exchange(sock, "GET", "/chunked")
        last = http_exchange(sock, "GET", "/z")
    assert first == b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\nresponse 1 to POST /a"
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n"  # no body after a HEAD answer
    assert chunked.endswith(b"\r\n0\r\n\r\n") and b"response 3 t" in chunked
    assert body_of(last) == b"response 4 to GET /z"
    assert [(m, p) for m, p, _ in http_upstream.requests] == [
        ("POST", "/a"),
        ("HEAD", "/h"),
        ("GET", "/chunked"),
        ("GET", "/z"),
    ]
    assert http_upstream.requests[0][2] == b"x" * 5000


@pytest.mark.parametrize("path", ["/plain", "/chunked"])
def test_drop_response_reset_after_upstream_saw_the_request(
    http_proxy: ProxyHandle, http_upstream: Upstream, path: str
) -> None:
    http_proxy.add_toxic("drop_response", mode="reset")
    with http_proxy.connect() as sock, pytest.raises(ConnectionResetError):
        http_exchange(sock, "POST", path, b"{}")
    assert [(m, p) for m, p, _ in http_upstream.requests] == [("POST", path)]


def test_drop_response_close_sends_fin(http_proxy: ProxyHandle, http_upstream: Upstream) -> None:
    http_proxy.add_toxic("drop_response", mode="close")
    with http_proxy.connect() as sock:
        sock.sendall(b"GET /c HTTP/1.1\r\nHost: t\r\n\r\n")
        assert recv_until_closed(sock) == b""
    assert len(http_upstream.requests) == 1


def test_drop_response_hang_holds_until_removed(http_proxy: ProxyHandle, http_upstream: Upstream) -> None:
    name = http_proxy.add_toxic("drop_response", mode="hang")
    with http_proxy.connect(timeout=0.3) as sock:
        sock.sendall(b"GET /h HTTP/1.1\r\nHost: t\r\n\r\n")
        with pytest.raises(TimeoutError):
            sock.recv(100)
        assert http_upstream.got_request.wait(WAIT_S)  # the request went through, only the answer is held
        sock.settimeout(5)
        http_proxy.remove_toxic(name)
        assert recv_until_closed(sock) == b""  # the exchange is broken: the connection is closed


def test_drop_response_toxicity_is_per_request_and_seeded(
    http_proxy: ProxyHandle, http_upstream: Upstream
) -> None:
    def outcomes(seed: int) -> list[str]:
        name = http_proxy.add_toxic("drop_response", toxicity=0.5, mode="close", seed=seed)
        result = []
        sock = http_proxy.connect()
        for _ in range(16):
            try:
                http_exchange(sock, "GET", "/s")
                result.append("ok")
            except ConnectionError:
                result.append("dropped")
                sock.close()
                sock = http_proxy.connect()
        sock.close()
        http_proxy.remove_toxic(name)
        return result

    first, again, other = outcomes(7), outcomes(7), outcomes(8)
    assert first == again
    assert first != other
    assert 2 <= first.count("dropped") <= 14
    assert len(http_upstream.requests) == 48  # every request reached the upstream


def test_drop_response_keeps_earlier_responses_on_the_connection(http_proxy: ProxyHandle) -> None:
    with http_proxy.connect() as sock:
        assert body_of(http_exchange(sock, "GET", "/1")) == b"response 1 to GET /1"
        http_proxy.add_toxic("drop_response", mode="reset")
        with pytest.raises(ConnectionResetError):
            http_exchange(sock, "GET", "/2")


def test_http_latency_downstream_delays_each_response(http_proxy: ProxyHandle) -> None:
    http_proxy.add_toxic("http_latency", latency=200)
    with http_proxy.connect() as sock:
        for path in ("/1", "/2"):
            took, response = elapsed(lambda p=path: http_exchange(sock, "GET", p))  # type: ignore[misc]
            assert took >= 0.19 and isinstance(response, bytes) and response.startswith(b"HTTP/1.1 200")


def test_http_latency_upstream_delays_the_request_reaching_the_server(
    http_proxy: ProxyHandle, http_upstream: Upstream
) -> None:
    http_proxy.add_toxic("http_latency", stream="upstream", latency=300)
    with http_proxy.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"GET /late HTTP/1.1\r\nHost: t\r\n\r\n")
        assert http_upstream.got_request.wait(5)
        assert time.monotonic() - start >= 0.29


def test_http_latency_removed_mid_wait_delivers_the_response(
    http_proxy: ProxyHandle, http_upstream: Upstream
) -> None:
    name = http_proxy.add_toxic("http_latency", latency=60_000)
    with http_proxy.connect() as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n")
        assert http_upstream.got_request.wait(5)
        # held whole or in part by the toxic: removal must hand it on, not lose it
        http_proxy.remove_toxic(name)
        sock.settimeout(WAIT_S)
        received = b""
        while not received.endswith(b"response 1 to GET /x"):  # the head and body may come apart
            chunk = sock.recv(1000)
            assert chunk, f"closed after {received!r}"
            received += chunk
        assert received.startswith(b"HTTP/1.1 200 OK\r\n")


def test_http_error_answers_without_forwarding(http_proxy: ProxyHandle, http_upstream: Upstream) -> None:
    http_proxy.add_toxic("http_error", status=503, body="injected")
    with http_proxy.connect() as sock:
        response = http_exchange(sock, "POST", "/pay", b'{"amount": 1}')
        again = http_exchange(sock, "GET", "/pay")
    assert response.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert body_of(response) == b"injected"
    assert again.startswith(b"HTTP/1.1 503")
    assert http_upstream.requests == []


def test_http_error_seeded_toxicity_mixes_errors_and_forwarded(
    http_proxy: ProxyHandle, http_upstream: Upstream
) -> None:
    http_proxy.add_toxic("http_error", toxicity=0.5, status=500, seed=3)
    with http_proxy.connect() as sock:
        statuses = [http_exchange(sock, "GET", f"/{i}")[9:12] for i in range(12)]
    assert statuses.count(b"200") == len(http_upstream.requests)
    assert 1 <= statuses.count(b"500") <= 11


def test_http_toxic_on_non_http_traffic_passes_it_through(http_proxy: ProxyHandle, echo: Upstream) -> None:
    http_proxy.api.patch("/proxies/http", json={"upstream": echo.hostport})
    http_proxy.add_toxic("drop_response")
    with http_proxy.connect() as sock:
        sock.sendall(b"\x00\x01 not http at all\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_closed(sock) == b"\x00\x01 not http at all\r\n\r\n"


def test_drop_response_with_path_drops_only_the_answers_under_it(
    http_proxy: ProxyHandle, http_upstream: Upstream
) -> None:
    http_proxy.add_toxic("drop_response", mode="reset", path="/refund")
    outcomes = {}
    for path in ("/charge", "/refund", "/refunds", "/refund/7?retry=1", "/charge/refund"):
        with http_proxy.connect() as sock:
            try:
                outcomes[path] = http_exchange(sock, "POST", path, b"{}")[9:12].decode()
            except ConnectionResetError:
                outcomes[path] = "dropped"
    assert outcomes == {"/charge": "200", "/refund": "dropped", "/refunds": "200",
                        "/refund/7?retry=1": "dropped", "/charge/refund": "200"}
    assert len(http_upstream.requests) == 5  # a dropped answer's request still reached the upstream


def test_a_request_outside_path_draws_no_decision(http_proxy: ProxyHandle, http_upstream: Upstream) -> None:
    """With ``seed`` and ``path``, the n-th decision falls on the n-th request under the path, whatever
    other requests came between: a scenario can rely on the first refund of a run being hit."""

    def statuses(interleave: bool) -> list[bytes]:
        name = http_proxy.add_toxic("http_error", toxicity=0.5, status=409, seed=5, path="/r")
        seen = []
        with http_proxy.connect() as sock:
            for number in range(12):
                if interleave:
                    assert http_exchange(sock, "GET", f"/other/{number}")[9:12] == b"200"
                seen.append(http_exchange(sock, "GET", f"/r/{number}")[9:12])
        http_proxy.remove_toxic(name)
        return seen

    alone, interleaved = statuses(False), statuses(True)
    assert alone == interleaved
    assert 1 <= alone.count(b"409") <= 11


@pytest.mark.parametrize("path", ["refund", "/a b", "/x?y=1", ""])
def test_path_must_be_an_absolute_path_without_query(http_proxy: ProxyHandle, path: str) -> None:
    response = http_proxy.api.post("/proxies/http/toxics", json={
        "type": "drop_response", "attributes": {"path": path}})
    assert response.status_code == 400
    assert "path" in response.text
