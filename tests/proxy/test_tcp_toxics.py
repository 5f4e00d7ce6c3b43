"""Toxiproxy's TCP toxics, observed with real traffic through the proxy to an echo server."""

from __future__ import annotations

import select
import socket
import time

import pytest

from proxy.proxy_helpers import ProxyHandle, elapsed, recv_exactly, recv_until_closed


def roundtrip(sock: socket.socket, payload: bytes) -> bytes:
    sock.sendall(payload)
    return recv_exactly(sock, len(payload))


def assert_silent_for(sock: socket.socket, seconds: float) -> None:
    """Nothing arrives and the connection stays open for ``seconds``."""
    readable, _, _ = select.select([sock], [], [], seconds)
    assert not readable, f"got {sock.recv(65536)!r} (b'' is a close) within {seconds} s"


def test_no_toxic_passes_bytes_unchanged(echo_proxy: ProxyHandle) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: exercises flow control on the fast path
    with echo_proxy.connect() as sock:
        sock.sendall(payload[:1000])
        assert recv_exactly(sock, 1000) == payload[:1000]
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload


def test_half_close_is_forwarded(echo_proxy: ProxyHandle) -> None:
    with echo_proxy.connect() as sock:
        sock.sendall(b"last words")
        sock.shutdown(socket.SHUT_WR)
        assert recv_until_closed(sock) == b"last words"


def test_latency_delays_downstream_and_upstream(echo_proxy: ProxyHandle) -> None:
    with echo_proxy.connect() as sock:
        assert roundtrip(sock, b"warm") == b"warm"
        echo_proxy.add_toxic("latency", latency=200)
        took, data = elapsed(lambda: roundtrip(sock, b"slow"))
        assert data == b"slow" and took >= 0.19
        echo_proxy.add_toxic("latency", stream="upstream", latency=100)
        took, data = elapsed(lambda: roundtrip(sock, b"slower"))
        assert data == b"slower" and took >= 0.29


def test_latency_applies_to_new_connections_and_removal_releases_held_bytes(echo_proxy: ProxyHandle) -> None:
    name = echo_proxy.add_toxic("latency", latency=300, jitter=10)
    with echo_proxy.connect() as sock:
        took, data = elapsed(lambda: roundtrip(sock, b"x"))
        assert data == b"x" and took >= 0.28
        patched = echo_proxy.api.patch(
            f"/proxies/echo/toxics/{name}", json={"attributes": {"latency": 60_000}}
        )
        assert patched.status_code == 200
        start = time.monotonic()
        sock.sendall(b"y")
        echo_proxy.remove_toxic(name)  # "y" is held by the toxic or not there yet: either way it comes
        assert recv_exactly(sock, 1) == b"y"
        assert time.monotonic() - start < 5.0


def test_toxicity_zero_leaves_connections_alone(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("latency", toxicity=0.0, latency=60_000)
    with echo_proxy.connect() as sock:
        took, data = elapsed(lambda: roundtrip(sock, b"x"))
        assert data == b"x" and took < 5.0


def test_bandwidth_limits_rate(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("bandwidth", rate=100)  # 100 KB/s
    with echo_proxy.connect() as sock:
        took, data = elapsed(lambda: roundtrip(sock, b"b" * 30_000))
        assert data == b"b" * 30_000 and took >= 0.28


def test_slow_close_delays_the_close(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("slow_close", delay=300)
    with echo_proxy.connect() as sock:
        assert roundtrip(sock, b"bye") == b"bye"
        sock.shutdown(socket.SHUT_WR)
        took, rest = elapsed(lambda: recv_until_closed(sock))
        assert rest == b"" and took >= 0.29


def test_timeout_closes_after_the_timeout_and_drops_data(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("timeout", timeout=200)
    with echo_proxy.connect() as sock:
        sock.sendall(b"lost")
        took, data = elapsed(lambda: recv_until_closed(sock))
        assert data == b"" and took >= 0.19


def test_timeout_zero_holds_the_connection_and_removal_closes_it_dropping_the_data(
    echo_proxy: ProxyHandle,
) -> None:
    name = echo_proxy.add_toxic("timeout", timeout=0)
    with echo_proxy.connect() as sock:
        sock.sendall(b"held")
        assert_silent_for(sock, 0.3)
        echo_proxy.remove_toxic(name)  # as Toxiproxy: the held bytes are gone and so is the connection
        assert recv_until_closed(sock) == b""


def test_timeout_timer_starts_again_with_each_chunk(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("timeout", stream="upstream", timeout=1000)
    with echo_proxy.connect() as sock:
        start = time.monotonic()
        for _ in range(4):  # 1.6 s of traffic in all, never 1 s without a chunk: the connection stays
            sock.sendall(b"tick")
            assert_silent_for(sock, 0.4)
        assert time.monotonic() - start >= 1.6
        took, data = elapsed(lambda: recv_until_closed(sock))
        assert data == b"" and 0.5 <= took < 5.0  # closed about 1 s after the last chunk


def test_latency_delays_each_chunk_from_its_own_arrival(echo_proxy: ProxyHandle) -> None:
    """20 chunks sent 10 ms apart through 100 ms: Toxiproxy takes about 290 ms, not 20 x 100 ms."""
    echo_proxy.add_toxic("latency", latency=100)
    count, size = 20, 1024
    with echo_proxy.connect() as sock:
        sent: list[float] = []
        arrived: dict[int, float] = {}
        received = b""
        start = time.monotonic()
        while len(received) < count * size and time.monotonic() - start < 10:
            if len(sent) < count and time.monotonic() >= start + 0.01 * len(sent):
                sent.append(time.monotonic())
                sock.sendall(bytes([len(sent)]) * size)
            next_send = start + 0.01 * len(sent) if len(sent) < count else start + 10
            if select.select([sock], [], [], max(0.0, next_send - time.monotonic()))[0]:
                chunk = sock.recv(65536)
                assert chunk, "closed early"
                for index in set(chunk):
                    arrived.setdefault(index, time.monotonic())
                received += chunk
        total = time.monotonic() - start
    assert received == b"".join(bytes([i]) * size for i in range(1, count + 1))
    assert all(arrived[i] - sent[i - 1] >= 0.095 for i in range(1, count + 1))  # every chunk waited
    assert total < 1.0, f"took {total:.3f} s: chunks were delayed one after another"


def test_reset_peer_resets_the_client(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("reset_peer", timeout=100)
    with echo_proxy.connect() as sock:
        start = time.monotonic()
        sock.sendall(b"boom")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
        assert time.monotonic() - start >= 0.09


def test_slicer_splits_into_small_writes(echo_proxy: ProxyHandle) -> None:
    """With a minute between slices, what arrives first is one slice, however fast or slow the machine."""
    name = echo_proxy.add_toxic("slicer", average_size=10, size_variation=0, delay=60_000_000)
    with echo_proxy.connect() as sock:
        sock.sendall(b"s" * 100)
        assert sock.recv(1000) == b"s" * 10
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(1000)  # the next slice is a minute away
        sock.setblocking(True)
        echo_proxy.remove_toxic(name)  # what the slicer held goes on at once
        assert recv_exactly(sock, 90) == b"s" * 90


def test_slicer_waits_its_delay_between_slices(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("slicer", average_size=10, size_variation=0, delay=20_000)  # 20 ms apart
    with echo_proxy.connect() as sock:
        took, data = elapsed(lambda: roundtrip(sock, b"s" * 100))
        assert data == b"s" * 100 and took >= 9 * 0.02 - 0.01  # nine gaps between ten slices


def test_limit_data_cuts_after_n_bytes(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("limit_data", bytes=10)
    with echo_proxy.connect() as sock:
        sock.sendall(b"0123456789abcdef")
        assert recv_until_closed(sock) == b"0123456789"


def test_limit_data_upstream_counts_across_writes(echo_proxy: ProxyHandle) -> None:
    echo_proxy.add_toxic("limit_data", stream="upstream", bytes=6)
    with echo_proxy.connect() as sock:
        assert roundtrip(sock, b"abc") == b"abc"
        sock.sendall(b"defgh")
        # "def" reaches the upstream, then the connection closes before any echo can come back
        assert recv_until_closed(sock) == b""


def test_live_toxic_changes_lose_no_bytes(echo_proxy: ProxyHandle) -> None:
    """Stream while toxics come and go: every byte arrives once, in order."""
    payload = b"".join(i.to_bytes(4, "big") for i in range(50_000))  # 200 kB, each position distinct
    with echo_proxy.connect(timeout=10) as sock:
        received = b""
        step = len(payload) // 8
        for index in range(8):
            sock.sendall(payload[index * step : (index + 1) * step])
            if index == 1:
                echo_proxy.add_toxic("latency", latency=30)
                echo_proxy.add_toxic("slicer", average_size=1000, size_variation=100)
            if index == 3:
                echo_proxy.add_toxic("bandwidth", stream="upstream", rate=5000)
                echo_proxy.remove_toxic("latency_downstream")
            if index == 5:
                echo_proxy.remove_toxic("slicer_downstream")
                echo_proxy.add_toxic("latency", stream="upstream", latency=60_000)  # holds, hands on
            if index == 6:
                echo_proxy.remove_toxic("latency_upstream")
                echo_proxy.remove_toxic("bandwidth_upstream")
            received += sock.recv(65536)
        received += recv_exactly(sock, len(payload) - len(received))
    assert received == payload


def test_upstream_unreachable_closes_the_client_and_the_proxy_keeps_serving(echo_proxy: ProxyHandle) -> None:
    echo_proxy.api.patch("/proxies/echo", json={"upstream": "127.0.0.1:1"})
    with echo_proxy.connect() as sock:
        assert recv_until_closed(sock) == b""
    assert echo_proxy.api.get("/proxies/echo").status_code == 200
