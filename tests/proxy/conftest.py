"""Fixtures for the fault proxy tests: the server in a thread, upstreams, a clean API per test."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from harness.proxy.background import BackgroundProxyServer
from proxy.proxy_helpers import (
    LoopThread,
    ProxyHandle,
    Upstream,
    echo_handler,
    http_handler,
    make_proxy,
    start_upstream,
)


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture
def echo(loop_thread: LoopThread) -> Iterator[Upstream]:
    yield from start_upstream(loop_thread, echo_handler)


@pytest.fixture
def http_upstream(loop_thread: LoopThread) -> Iterator[Upstream]:
    yield from start_upstream(loop_thread, http_handler)


@pytest.fixture(scope="session")
def proxy_server() -> Iterator[BackgroundProxyServer]:
    with BackgroundProxyServer() as server:
        yield server


@pytest.fixture
def api(proxy_server: BackgroundProxyServer) -> Iterator[httpx.Client]:
    """A raw httpx client on the API; every proxy is deleted after the test."""
    with httpx.Client(base_url=proxy_server.url, timeout=10, trust_env=False) as client:
        yield client
        for name in client.get("/proxies").json():
            client.delete(f"/proxies/{name}")


@pytest.fixture
def echo_proxy(api: httpx.Client, echo: Upstream) -> ProxyHandle:
    return make_proxy(api, echo.hostport, "echo")


@pytest.fixture
def http_proxy(api: httpx.Client, http_upstream: Upstream) -> ProxyHandle:
    return make_proxy(api, http_upstream.hostport, "http")
