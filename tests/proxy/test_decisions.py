"""Each per-request decision of an HTTP toxic is kept with the op id of the request it hit."""

from __future__ import annotations

import socket

import httpx
import pytest
from waiting import wait_until

from harness.opids import OP_HEADER, SAGA_HEADER
from harness.proxy.background import BackgroundProxyServer
from harness.proxy.client import ProxyClient
from harness.proxy.decisions import DecisionLog, ToxicDecision
from proxy.proxy_helpers import ProxyHandle, Upstream, http_exchange


def as_op(op_id: str) -> dict[str, str]:
    return {OP_HEADER: op_id}


def decided(proxy_server: BackgroundProxyServer, proxy: str) -> list[tuple[str, str | None, str, str]]:
    with ProxyClient(proxy_server.url) as client:
        return [(d.toxic, d.op_id, d.action, d.detail) for d in client.decisions(proxy)]


@pytest.mark.parametrize("mode", ["reset", "close"])
def test_drop_response_records_the_op_whose_response_it_dropped(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle, http_upstream: Upstream, mode: str
) -> None:
    toxic = http_proxy.add_toxic("drop_response", mode=mode)
    with http_proxy.connect() as sock, pytest.raises((ConnectionError, socket.timeout)):
        http_exchange(sock, "POST", "/pay", b"{}", as_op("op-7"))
    assert decided(proxy_server, "http") == [(toxic, "op-7", mode, "")]
    assert len(http_upstream.requests) == 1  # the target did the work: only the answer was lost


def test_drop_response_hang_is_recorded_when_it_starts(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle
) -> None:
    toxic = http_proxy.add_toxic("drop_response", mode="hang")
    with http_proxy.connect(timeout=0.3) as sock, pytest.raises(socket.timeout):
        http_exchange(sock, "GET", "/", headers=as_op("op-h"))
    # recorded when the answer comes back from the upstream, which a busy machine may not have done yet
    wait_until(lambda: decided(proxy_server, "http"), "the hang decision")
    assert decided(proxy_server, "http") == [(toxic, "op-h", "hang", "")]


def test_a_dropped_response_is_paired_with_its_own_request_on_a_keep_alive_connection(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle
) -> None:
    toxic = http_proxy.add_toxic("drop_response", toxicity=0.5, seed=3)
    answered: list[str] = []
    with http_proxy.connect() as sock, pytest.raises(ConnectionError):
        for number in range(40):  # 2**-40 that none is dropped
            http_exchange(sock, "HEAD" if number % 2 else "GET", "/", headers=as_op(f"op-{number}"))
            answered.append(f"op-{number}")
    assert decided(proxy_server, "http") == [(toxic, f"op-{len(answered)}", "reset", "")]


def test_a_toxic_added_on_a_live_connection_pairs_responses_from_then_on(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle
) -> None:
    with http_proxy.connect() as sock:
        http_exchange(sock, "GET", "/a", headers=as_op("op-before"))
        toxic = http_proxy.add_toxic("http_latency", latency=5)
        http_exchange(sock, "GET", "/b", headers=as_op("op-after"))
    assert decided(proxy_server, "http") == [(toxic, "op-after", "delay", "5 ms")]


def test_http_latency_records_each_delayed_response_with_its_op(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle
) -> None:
    toxic = http_proxy.add_toxic("http_latency", latency=20)
    with http_proxy.connect() as sock:
        http_exchange(sock, "GET", "/a", headers=as_op("op-a"))
        http_exchange(sock, "GET", "/b", headers=as_op("op-b"))
    delayed = [(toxic, "op-a", "delay", "20 ms"), (toxic, "op-b", "delay", "20 ms")]
    assert decided(proxy_server, "http") == delayed


def test_http_latency_upstream_reads_the_op_from_the_request(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle
) -> None:
    toxic = http_proxy.add_toxic("http_latency", stream="upstream", latency=10)
    with http_proxy.connect() as sock:
        http_exchange(sock, "POST", "/a", b"x", as_op("op-up"))
    assert decided(proxy_server, "http") == [(toxic, "op-up", "delay", "10 ms")]


def test_http_error_records_the_op_it_answered_instead_of_forwarding(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle, http_upstream: Upstream
) -> None:
    toxic = http_proxy.add_toxic("http_error", status=503)
    with http_proxy.connect() as sock:
        answer = http_exchange(sock, "POST", "/a", b"{}", as_op("op-e"))
    assert answer.startswith(b"HTTP/1.1 503")
    assert decided(proxy_server, "http") == [(toxic, "op-e", "error", "503")]
    assert http_upstream.requests == []


def test_only_decisions_that_took_effect_are_kept_and_a_request_without_op_is_none(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle
) -> None:
    http_proxy.add_toxic("drop_response", toxicity=0.0)
    error = http_proxy.add_toxic("http_error", toxicity=1.0, status=502)
    with http_proxy.connect() as sock:
        http_exchange(sock, "GET", "/")
    assert decided(proxy_server, "http") == [(error, None, "error", "502")]


def test_decisions_of_an_unknown_proxy_are_a_toxiproxy_shaped_404(api: httpx.Client) -> None:
    response = api.get("/proxies/nope/decisions")
    assert response.status_code == 404
    assert response.json() == {"error": "proxy not found", "status": 404}


def test_toxiproxys_own_proxy_document_is_unchanged(api: httpx.Client, http_proxy: ProxyHandle) -> None:
    assert set(api.get("/proxies/http").json()) == {"name", "listen", "upstream", "enabled", "toxics"}


def test_the_log_keeps_the_newest_and_counts_what_it_let_go() -> None:
    log = DecisionLog(max_kept=2)
    for number in range(5):
        log.record(ToxicDecision(float(number), "drop", f"op-{number}", "reset"))
    document = log.to_json()
    kept = document["decisions"]
    assert document["lost"] == 3 and isinstance(kept, list)
    assert [ToxicDecision.from_json(item).op_id for item in kept] == ["op-3", "op-4"]


def test_a_saga_hop_decision_keeps_the_saga_id_and_path_of_the_call_it_hit(
    proxy_server: BackgroundProxyServer, http_proxy: ProxyHandle
) -> None:
    toxic = http_proxy.add_toxic("drop_response", mode="reset")
    with http_proxy.connect() as sock, pytest.raises((ConnectionError, socket.timeout)):
        http_exchange(sock, "POST", "/refund", b"{}", {SAGA_HEADER: "saga_1"})  # no op header
    with ProxyClient(proxy_server.url) as client:
        [decision] = client.decisions("http")
    found = (decision.toxic, decision.op_id, decision.saga_id, decision.path)
    assert found == (toxic, None, "saga_1", "/refund")


def test_a_decision_written_before_saga_ids_reads_without_them() -> None:
    old = {"t": 1.5, "toxic": "drop", "op_id": "op-1", "action": "reset", "detail": ""}
    decision = ToxicDecision.from_json(old)
    assert (decision.op_id, decision.saga_id, decision.path) == ("op-1", None, "")
    assert ToxicDecision.from_json(decision.to_json()) == decision
