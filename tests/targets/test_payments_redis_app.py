"""The payments target's Redis-keyed variants in-process, against a real redis-server."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from fastapi import FastAPI

from targets.payments.app import create_app
from targets.targetkit import TargetConfig

CHARGE = {"amount": 1250, "currency": "eur", "customer": "cus_1", "reference": "op-1"}
VARIANTS = ["idempotent-redis", "broken-redis-key-after-effect"]

pytestmark = pytest.mark.anyio

OpenPayments = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def open_payments(tmp_path: Path, redis_env: dict[str, str],
                  asgi_client: Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
                  ) -> OpenPayments:
    @asynccontextmanager
    async def open_client(variant: str, work: Callable[[], None] | None = None
                          ) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(TargetConfig(variant=variant, db_path=tmp_path / "p.db"), redis_env, work=work)
        async with asgi_client(app) as client:
            yield client

    return open_client


async def _post(client: httpx.AsyncClient, body: dict[str, Any], key: str | None = "k-1") -> httpx.Response:
    return await client.post("/charges", json=body, headers={"Idempotency-Key": key} if key else {})


async def _effect_ids(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/effects")
    assert response.status_code == 200
    return [effect["id"] for effect in response.json()]


@pytest.mark.parametrize("variant", VARIANTS)
async def test_a_sequential_retry_replays_and_the_key_lives_under_the_prefix(
        open_payments: OpenPayments, redis_env: dict[str, str], variant: str) -> None:
    async with open_payments(variant) as client:
        first = await _post(client, CHARGE)
        retry = await _post(client, CHARGE)
        reused = await _post(client, {**CHARGE, "amount": 1})
        missing = await _post(client, CHARGE, key=None)
        effects = await _effect_ids(client)
    assert [r.status_code for r in (first, retry, reused, missing)] == [201, 201, 422, 400]
    assert (retry.content, retry.headers["Idempotent-Replayed"]) == (first.content, "true")
    assert effects == [first.json()["id"]]
    server = redis.Redis.from_url(redis_env["HARNESS_REDIS_URL"])
    prefix = redis_env["HARNESS_REDIS_PREFIX"]
    assert server.keys(f"{prefix}*") == [f"{prefix}idempotency:POST /charges:k-1".encode()]
    assert 0 < server.ttl(f"{prefix}idempotency:POST /charges:k-1") <= 24 * 60 * 60


async def test_idempotent_redis_answers_409_while_the_key_is_in_flight(open_payments: OpenPayments) -> None:
    entered, release = threading.Event(), threading.Event()

    def blocking_work() -> None:
        entered.set()
        assert release.wait(timeout=10), "test never released the first request"

    async with open_payments("idempotent-redis", work=blocking_work) as client:
        first_task = asyncio.create_task(_post(client, CHARGE))
        try:
            assert await asyncio.to_thread(entered.wait, 10)
            concurrent = await _post(client, CHARGE)
            other_payload = await _post(client, {**CHARGE, "amount": 1})
        finally:
            release.set()
        first = await first_task
        after = await _post(client, CHARGE)
        effects = await _effect_ids(client)
    assert (concurrent.status_code, other_payload.status_code, first.status_code) == (409, 422, 201)
    assert concurrent.json()["type"] == "tag:idempotency-harness,2025:problem:idempotency-key-in-flight"
    assert (after.status_code, after.content) == (201, first.content)
    assert after.headers["Idempotent-Replayed"] == "true"
    assert effects == [first.json()["id"]]


async def test_broken_key_after_effect_charges_twice_for_two_concurrent_requests(
        open_payments: OpenPayments) -> None:
    barrier = threading.Barrier(2, timeout=10)  # both have looked the key up before either charges

    def work() -> None:
        barrier.wait()

    async with open_payments("broken-redis-key-after-effect", work=work) as client:
        responses = await asyncio.gather(_post(client, CHARGE), _post(client, CHARGE))
        effects = await _effect_ids(client)
    assert [r.status_code for r in responses] == [201, 201]
    assert sorted(effects) == sorted(r.json()["id"] for r in responses)
    assert len(set(effects)) == 2


@pytest.mark.parametrize("variant", VARIANTS)
def test_redis_variants_name_the_missing_url(tmp_path: Path, variant: str) -> None:
    with pytest.raises(ValueError, match=f"^HARNESS_REDIS_URL is not set: variant '{variant}' keeps"):
        create_app(TargetConfig(variant=variant, db_path=tmp_path / "p.db"), {})


def test_an_unreachable_redis_fails_the_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^HARNESS_REDIS_URL: cannot connect to redis://127.0.0.1:1/0"):
        create_app(TargetConfig(variant="idempotent-redis", db_path=tmp_path / "p.db"),
                   {"HARNESS_REDIS_URL": "redis://127.0.0.1:1/0"})
