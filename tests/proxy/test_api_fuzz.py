"""A seeded fuzz of the control API, kept as a regression test: whatever a caller sends, the answer is
Toxiproxy's JSON (2xx, or 4xx with ``{"error", "status"}``), never a 500, and the server keeps serving.

Bounded in count (a few hundred requests) and time; the seed makes a failure reproducible.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import httpx
import pytest

SEED = 20261202
REQUESTS = 400
NAMES = ("fz", "fz-2", "", "a/b", "{x}", "ü", "x" * 300, "..", "fz%20", "null")
TOXICS = (
    "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data",
    "drop_response", "http_latency", "http_error", "nope", "",
)  # fmt: skip
VALUES: tuple[object, ...] = (
    None, True, 0, -1, 1, 2**63, -(2**63), 1.5, float("1e308"), "", "x", "127.0.0.1:0", "0.0.0.0:0",
    "localhost:1", "[::1]:0", "256.0.0.1:80", [], {}, ["a"], {"a": 1},
)  # fmt: skip
FIELDS = (
    "name", "listen", "upstream", "enabled", "type", "stream", "toxicity", "attributes", "latency",
    "jitter", "rate", "delay", "timeout", "average_size", "size_variation", "bytes", "mode", "status",
)  # fmt: skip


def _value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.random()
    if roll < 0.15 and depth < 3:
        return {rng.choice(FIELDS): _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if roll < 0.2 and depth < 3:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if roll < 0.3:
        return rng.choice(NAMES)
    if roll < 0.4:
        return rng.choice(TOXICS)
    return rng.choice(VALUES)


def _body(rng: random.Random) -> bytes:
    if rng.random() < 0.1:  # not JSON at all, or JSON cut short
        return rng.choice([b"{", b"\xff\xfe", b"[1,", b"nul", b'{"name": "fz"', b"\x00" * 8])
    body = {field: _value(rng) for field in rng.sample(FIELDS, rng.randrange(len(FIELDS)))}
    return json.dumps(body).encode()


def _requests(rng: random.Random) -> Iterator[tuple[str, str, bytes]]:
    for _ in range(REQUESTS):
        name = rng.choice(NAMES)
        toxic = rng.choice(TOXICS)
        method, path = rng.choice(
            [
                ("POST", "/proxies"),
                ("POST", f"/proxies/{name}"),
                ("GET", f"/proxies/{name}"),
                ("DELETE", f"/proxies/{name}"),
                ("POST", f"/proxies/{name}/toxics"),
                ("POST", f"/proxies/{name}/toxics/{toxic}"),
                ("GET", f"/proxies/{name}/toxics/{toxic}"),
                ("DELETE", f"/proxies/{name}/toxics/{toxic}"),
                ("POST", "/populate"),
                ("POST", "/reset"),
                ("GET", "/proxies"),
            ]
        )
        yield method, path, _body(rng) if method == "POST" else b""


@pytest.mark.timeout(120)
def test_no_request_gets_a_500_and_the_server_keeps_serving(api: httpx.Client) -> None:
    rng = random.Random(SEED)
    statuses: dict[int, int] = {}
    for method, path, body in _requests(rng):
        response = api.request(method, path, content=body, headers={"Content-Type": "application/json"})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        shown = f"{method} {path} {body[:200]!r}: {response.status_code} {response.text}"
        assert response.status_code < 500, shown
        if response.status_code >= 400:
            error = response.json()
            # Toxiproxy's error body; /populate adds the proxies it made before the error
            extra = {"proxies"} if path == "/populate" else set()
            assert {"error", "status"} <= set(error) <= {"error", "status", *extra}, shown
            assert error["status"] == response.status_code, shown
    assert api.get("/version").status_code == 200
    assert sum(count for status, count in statuses.items() if status < 300) > 0, statuses  # some calls worked
    assert sum(count for status, count in statuses.items() if 400 <= status < 500) > 0, statuses
    api.post("/reset")
    for proxy in api.get("/proxies").json():
        api.delete(f"/proxies/{proxy}")
