"""The orders target in-process: naive duplicates, idempotent variants replay, broken ones duplicate
only when two attempts of one operation overlap. Postgres variants run against a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from factories import both_at_once, effects_of

from targets.orders.app import create_app
from targets.targetkit import TargetConfig

ORDER = {"sku": "sku-1", "quantity": 2, "customer": "cus_1", "reference": "op-1"}
PROBLEM_JSON = "application/problem+json"
POSTGRES_VARIANTS = {"idempotent-postgres", "broken-postgres-no-lock"}
IDEMPOTENT = ["idempotent", "idempotent-postgres"]
BROKEN = ["broken-check-then-act", "broken-postgres-no-lock"]
KEYED = IDEMPOTENT + BROKEN

if TYPE_CHECKING:
    from conftest import OpenOrders

pytestmark = pytest.mark.anyio


async def _post(client: httpx.AsyncClient, body: dict[str, Any], key: str | None = "k-1") -> httpx.Response:
    return await client.post("/orders", json=body, headers={"Idempotency-Key": key} if key else {})


@pytest.mark.parametrize("variant", ["naive", *KEYED])
async def test_health_names_the_variant(open_orders: OpenOrders, variant: str) -> None:
    async with open_orders(variant) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "variant": variant})


async def test_naive_orders_twice_for_two_identical_requests(open_orders: OpenOrders) -> None:
    async with open_orders("naive") as client:
        first, second = await _post(client, ORDER), await _post(client, ORDER)
        effects = await effects_of(client)
    assert (first.status_code, second.status_code) == (201, 201)
    order = first.json()
    assert set(order) == {"id", "sku", "quantity", "customer", "reference", "created_at"}
    assert order["id"].startswith("ord_") and order["id"] != second.json()["id"]
    assert effects == [
        {"id": placed["id"], "reference": "op-1", "sku": "sku-1", "quantity": 2,
         "created_at": placed["created_at"]}
        for placed in (order, second.json())
    ]


@pytest.mark.parametrize("variant", KEYED)
async def test_a_sequential_retry_replays_the_order(open_orders: OpenOrders, variant: str) -> None:
    """The test every keyed variant passes, the broken ones included: they look idempotent."""
    async with open_orders(variant) as client:
        first = await _post(client, ORDER)
        retry = await _post(client, dict(reversed(ORDER.items())))  # same payload, other key order
        other = await _post(client, {**ORDER, "reference": "op-2"}, key="k-2")
        effects = await effects_of(client)
    assert (first.status_code, retry.status_code, other.status_code) == (201, 201, 201)
    assert retry.content == first.content
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [(e["id"], e["reference"]) for e in effects] == [(first.json()["id"], "op-1"),
                                                           (other.json()["id"], "op-2")]


@pytest.mark.parametrize("variant", IDEMPOTENT)
async def test_idempotent_two_concurrent_identical_requests_make_one_order(open_orders: OpenOrders,
                                                                           variant: str) -> None:
    async with open_orders(variant, work=both_at_once()) as client:
        responses = await asyncio.gather(_post(client, ORDER), _post(client, ORDER))
        effects = await effects_of(client)
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].content == responses[1].content
    assert sorted(r.headers.get("Idempotent-Replayed", "no") for r in responses) == ["no", "true"]
    assert [e["id"] for e in effects] == [responses[0].json()["id"]]


@pytest.mark.parametrize("variant", BROKEN)
async def test_broken_two_concurrent_identical_requests_make_two_orders(open_orders: OpenOrders,
                                                                        variant: str) -> None:
    async with open_orders(variant, work=both_at_once()) as client:
        responses = await asyncio.gather(_post(client, ORDER), _post(client, ORDER))
        effects = await effects_of(client)
    assert [r.status_code for r in responses] == [201, 201]
    assert [r.headers.get("Idempotent-Replayed") for r in responses] == [None, None]
    assert responses[0].json()["id"] != responses[1].json()["id"]
    assert sorted(e["id"] for e in effects) == sorted(r.json()["id"] for r in responses)
    assert [e["reference"] for e in effects] == ["op-1", "op-1"]


@pytest.mark.parametrize("variant", KEYED)
async def test_keyed_variants_require_the_key_and_refuse_another_payload(open_orders: OpenOrders,
                                                                         variant: str) -> None:
    async with open_orders(variant) as client:
        missing = await _post(client, ORDER, key=None)
        first = await _post(client, ORDER)
        reused = await _post(client, {**ORDER, "quantity": 3})
        effects = await effects_of(client)
    assert (missing.status_code, first.status_code, reused.status_code) == (400, 201, 422)
    assert missing.headers["content-type"] == reused.headers["content-type"] == PROBLEM_JSON
    assert missing.json()["type"] == "tag:idempotency-harness,2025:problem:idempotency-key-missing"
    assert reused.json()["type"] == "tag:idempotency-harness,2025:problem:idempotency-key-reused"
    assert [e["id"] for e in effects] == [first.json()["id"]]


@pytest.mark.parametrize("variant", ["naive", "idempotent"])
async def test_invalid_bodies_are_422_problems_without_effects(open_orders: OpenOrders, variant: str) -> None:
    async with open_orders(variant) as client:
        zero = await _post(client, {**ORDER, "quantity": 0})
        text = await _post(client, {**ORDER, "quantity": "2"})
        effects = await effects_of(client)
    assert [(r.status_code, r.json()["errors"][0]["loc"]) for r in (zero, text)] == [
        (422, ["body", "quantity"]), (422, ["body", "quantity"])]
    assert effects == []


async def test_idempotent_postgres_replays_across_a_new_app_on_the_same_database(
        open_orders: OpenOrders) -> None:
    async with open_orders("idempotent-postgres") as client:
        first = await _post(client, ORDER)
    async with open_orders("idempotent-postgres") as client:  # same test: same database
        replay = await _post(client, ORDER)
        effects = await effects_of(client)
    assert (replay.status_code, replay.content) == (201, first.content)
    assert [e["id"] for e in effects] == [first.json()["id"]]


@pytest.mark.parametrize("variant", sorted(POSTGRES_VARIANTS))
def test_postgres_variants_name_the_missing_dsn(tmp_path: Path, variant: str) -> None:
    with pytest.raises(ValueError, match=f"^HARNESS_POSTGRES_DSN is not set: variant '{variant}' keeps"):
        create_app(TargetConfig(variant=variant, db_path=tmp_path / "o.db"), {})
