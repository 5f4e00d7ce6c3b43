"""Redis as a run service: a real server, SET NX locks with TTLs, cells apart by key prefix."""

from __future__ import annotations

import redis

from harness.runtime.base import Endpoint
from harness.services import ServiceSet


def _client(env: dict[str, str]) -> redis.Redis:
    return redis.Redis.from_url(env["HARNESS_REDIS_URL"], socket_timeout=5)


def test_set_nx_in_flight_lock_then_stored_response_with_ttl(stores: ServiceSet) -> None:
    env = stores.cell_env("redis-lock")
    prefix = env["HARNESS_REDIS_PREFIX"]
    client = _client(env)
    try:
        first = client.set(f"{prefix}idem:key-1", "in-flight", nx=True, ex=30)
        second = client.set(f"{prefix}idem:key-1", "in-flight", nx=True, ex=30)
        client.set(f"{prefix}idem:key-1", '{"status": 201}', xx=True, keepttl=True)
        stored = client.get(f"{prefix}idem:key-1")
        ttl = client.ttl(f"{prefix}idem:key-1")
        aof = client.config_get("appendfsync")
    finally:
        client.close()
    assert prefix == "redis-lock:"
    assert (first, second, stored) == (True, None, b'{"status": 201}')
    assert 25 <= ttl <= 30
    assert aof == {"appendfsync": "always"}


def test_cells_get_their_own_prefix_on_one_server(stores: ServiceSet) -> None:
    naive = stores.cell_env("naive--latency")
    idempotent = stores.cell_env("idempotent--latency")
    client = _client(naive)
    try:
        client.set(f"{naive['HARNESS_REDIS_PREFIX']}op-1", "1")
        seen_by_other = client.keys(f"{idempotent['HARNESS_REDIS_PREFIX']}*")
    finally:
        client.close()
    port = stores.endpoints["redis"].port
    assert naive["HARNESS_REDIS_URL"] == idempotent["HARNESS_REDIS_URL"] == f"redis://127.0.0.1:{port}/0"
    assert (naive["HARNESS_REDIS_PREFIX"], idempotent["HARNESS_REDIS_PREFIX"]) == (
        "naive--latency:",
        "idempotent--latency:",
    )
    assert seen_by_other == []


def test_addresses_override_the_url_not_the_prefix(stores: ServiceSet) -> None:
    env = stores.cell_env("redis-proxied", {"redis": Endpoint("127.0.0.1", 4322)})
    assert (env["HARNESS_REDIS_URL"], env["HARNESS_REDIS_PREFIX"]) == (
        "redis://127.0.0.1:4322/0",
        "redis-proxied:",
    )
