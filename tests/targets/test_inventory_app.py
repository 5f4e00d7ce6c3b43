"""The inventory target in-process: naive takes stock twice, idempotent variants (a keyed reservation,
compare-and-set) once, the broken check-then-act twice only when two attempts overlap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import both_at_once, effects_of
from fastapi import FastAPI

from targets.inventory.app import create_app
from targets.inventory.stock import INITIAL_STOCK
from targets.targetkit import TargetConfig

RESERVE = {"sku": "sku-1", "quantity": 3, "reference": "op-1"}
CAS_ON_POSTGRES = "idempotent-cas+postgres"  # the idempotent-cas variant given HARNESS_POSTGRES_DSN
IDEMPOTENT = ["idempotent", "idempotent-cas", CAS_ON_POSTGRES]
KEYED = [*IDEMPOTENT, "broken-check-then-act"]

pytestmark = pytest.mark.anyio

OpenInventory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def open_inventory(request: pytest.FixtureRequest, tmp_path: Path,
                   asgi_client: Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
                   ) -> OpenInventory:
    """`open_inventory(variant, work=None)`: a client of a fresh app (`idempotent-cas+postgres`: Postgres)."""
    @asynccontextmanager
    async def open_client(variant: str, work: Callable[[], None] | None = None
                          ) -> AsyncIterator[httpx.AsyncClient]:
        environ = {}
        if variant == CAS_ON_POSTGRES:
            variant = "idempotent-cas"
            environ = {"HARNESS_POSTGRES_DSN": request.getfixturevalue("postgres_dsn")}
        app = create_app(TargetConfig(variant=variant, db_path=tmp_path / "inventory.db"), environ, work=work)
        async with asgi_client(app) as client:
            yield client

    return open_client


async def _reserve(client: httpx.AsyncClient, body: dict[str, Any],
                   key: str | None = "k-1") -> httpx.Response:
    return await client.post("/reservations", json=body, headers={"Idempotency-Key": key} if key else {})


async def _stock(client: httpx.AsyncClient, sku: str = "sku-1") -> tuple[int, int]:
    level = (await client.get(f"/stock/{sku}")).json()
    return level["quantity"], level["version"]


async def test_naive_takes_stock_twice_for_two_identical_requests(open_inventory: OpenInventory) -> None:
    async with open_inventory("naive") as client:
        untouched = await _stock(client)
        first, second = await _reserve(client, RESERVE), await _reserve(client, RESERVE)
        effects = await effects_of(client)
        stock = await _stock(client)
    assert untouched == (INITIAL_STOCK, 0)
    assert [r.status_code for r in (first, second)] == [201, 201]
    assert set(first.json()) == {"id", "sku", "quantity", "stock_after"}
    assert [r.json()["stock_after"] for r in (first, second)] == [INITIAL_STOCK - 3, INITIAL_STOCK - 6]
    assert stock == (INITIAL_STOCK - 6, 2)
    assert [(e["id"], e["reference"], e["quantity"]) for e in effects] == [
        (first.json()["id"], "op-1", 3), (second.json()["id"], "op-1", 3)]
    assert all(isinstance(e["created_at"], float) for e in effects)


@pytest.mark.parametrize("variant", KEYED)
async def test_a_sequential_retry_replays_the_reservation(open_inventory: OpenInventory,
                                                          variant: str) -> None:
    """The test every keyed variant passes, the broken one included: it looks idempotent."""
    async with open_inventory(variant) as client:
        first = await _reserve(client, RESERVE)
        retry = await _reserve(client, RESERVE)
        other = await _reserve(client, {**RESERVE, "quantity": 4, "reference": "op-2"}, key="k-2")
        effects = await effects_of(client)
        stock = await _stock(client)
    assert [r.status_code for r in (first, retry, other)] == [201, 201, 201]
    assert (retry.content, retry.headers["Idempotent-Replayed"]) == (first.content, "true")
    assert first.json()["stock_after"] == INITIAL_STOCK - 3
    assert stock == (INITIAL_STOCK - 7, 2)
    assert [e["reference"] for e in effects] == ["op-1", "op-2"]


@pytest.mark.parametrize("variant", IDEMPOTENT)
async def test_idempotent_two_concurrent_identical_requests_take_stock_once(open_inventory: OpenInventory,
                                                                            variant: str) -> None:
    async with open_inventory(variant, work=both_at_once()) as client:
        responses = await asyncio.gather(_reserve(client, RESERVE), _reserve(client, RESERVE))
        effects = await effects_of(client)
        stock = await _stock(client)
    assert [r.status_code for r in responses] == [201, 201]
    assert responses[0].content == responses[1].content
    assert sorted(r.headers.get("Idempotent-Replayed", "no") for r in responses) == ["no", "true"]
    assert [e["id"] for e in effects] == [responses[0].json()["id"]]
    assert stock == (INITIAL_STOCK - 3, 1)


async def test_broken_two_concurrent_identical_requests_take_stock_twice(
        open_inventory: OpenInventory) -> None:
    async with open_inventory("broken-check-then-act", work=both_at_once()) as client:
        responses = await asyncio.gather(_reserve(client, RESERVE), _reserve(client, RESERVE))
        effects = await effects_of(client)
        stock = await _stock(client)
    assert [r.status_code for r in responses] == [201, 201]
    assert [r.headers.get("Idempotent-Replayed") for r in responses] == [None, None]
    assert [e["reference"] for e in effects] == ["op-1", "op-1"]
    assert stock == (INITIAL_STOCK - 6, 2)


@pytest.mark.parametrize("variant", ["idempotent-cas", CAS_ON_POSTGRES])
async def test_cas_retries_a_stale_write_and_loses_no_update(open_inventory: OpenInventory,
                                                             variant: str) -> None:
    """Two operations read version 0 together; one write wins, the other conflicts, rereads and wins."""
    async with open_inventory(variant, work=both_at_once()) as client:
        responses = await asyncio.gather(_reserve(client, RESERVE, key="k-1"),
                                         _reserve(client, {**RESERVE, "quantity": 5, "reference": "op-2"},
                                                  key="k-2"))
        stock = await _stock(client)
        store = (await client.get("/stock/sku-1")).json()["store"]
    assert [r.status_code for r in responses] == [201, 201]
    after_by_quantity = {r.json()["quantity"]: r.json()["stock_after"] for r in responses}
    # whichever wrote first saw the initial stock; the other was refused, reread, and saw the first's write
    assert after_by_quantity in ({3: INITIAL_STOCK - 3, 5: INITIAL_STOCK - 8},
                                 {3: INITIAL_STOCK - 8, 5: INITIAL_STOCK - 5})
    assert stock == (INITIAL_STOCK - 8, 2)
    assert store == ("postgres" if variant == CAS_ON_POSTGRES else "sqlite")


@pytest.mark.parametrize("variant", KEYED)
async def test_keyed_variants_require_the_key_and_refuse_another_payload(open_inventory: OpenInventory,
                                                                         variant: str) -> None:
    async with open_inventory(variant) as client:
        missing = await _reserve(client, RESERVE, key=None)
        first = await _reserve(client, RESERVE)
        reused = await _reserve(client, {**RESERVE, "quantity": 9})
        invalid = await _reserve(client, {**RESERVE, "quantity": 0}, key="k-3")
        effects = await effects_of(client)
    assert [r.status_code for r in (missing, first, reused, invalid)] == [400, 201, 422, 422]
    assert missing.json()["type"] == "tag:idempotency-harness,2025:problem:idempotency-key-missing"
    assert reused.json()["type"] == "tag:idempotency-harness,2025:problem:idempotency-key-reused"
    assert invalid.json()["type"] == "tag:idempotency-harness,2025:problem:validation"
    assert [e["id"] for e in effects] == [first.json()["id"]]
