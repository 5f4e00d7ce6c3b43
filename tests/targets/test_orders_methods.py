"""The methods of one order, correct and broken: a repeated PUT, DELETE, PATCH or GET leaves the state
the method contract promises, except in the variant that gets that one method wrong on purpose."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from factories import both_at_once, effects_of

if TYPE_CHECKING:
    from conftest import OpenOrders, StartTarget

ORDER: dict[str, Any] = {"sku": "sku-1", "quantity": 2, "customer": "cus_1", "reference": "op-1.create"}
ADDRESS = {"line1": "1 Main St", "city": "Leeds", "reference": "op-1"}
INCREMENT: dict[str, Any] = {"op": "increment", "field": "quantity", "by": 3, "reference": "op-1"}
REPRESENTATION = {"id", "sku", "quantity", "customer", "reference", "address", "address_changes", "views"}
ACT = {"X-Reference": "op-1"}

KEYED_PATCH = ["idempotent", "idempotent-postgres", "broken-check-then-act", "broken-put-appends"]

pytestmark = pytest.mark.anyio


async def _place(client: httpx.AsyncClient, key: str = "create-1") -> str:
    response = await client.post("/orders", json=ORDER, headers={"Idempotency-Key": key})
    assert response.status_code == 201
    order_id: str = response.json()["id"]
    return order_id


async def _changes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """The (change, reference) of every effect row that is a change to an order, not an order."""
    return [(row["change"], row["reference"]) for row in await effects_of(client) if "change" in row]


async def _get(client: httpx.AsyncClient, order_id: str, headers: dict[str, str] | None = None) -> Any:
    response = await client.get(f"/orders/{order_id}", headers=headers)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("variant", ["naive", "idempotent", "idempotent-postgres"])
async def test_get_and_head_show_the_order_and_change_nothing(open_orders: OpenOrders, variant: str) -> None:
    async with open_orders(variant) as client:
        order_id = await _place(client)
        first = await client.get(f"/orders/{order_id}", headers=ACT)
        head = await client.head(f"/orders/{order_id}", headers=ACT)
        second = await client.get(f"/orders/{order_id}", headers=ACT)
        missing = await client.get("/orders/ord_missing")
        changes = await _changes(client)
    assert (first.status_code, head.status_code, second.status_code) == (200, 200, 200)
    assert set(first.json()) == REPRESENTATION
    assert first.json() == {**ORDER, "id": order_id, "address": None,
                            "address_changes": 0, "views": 0}
    assert second.content == first.content
    assert head.content == b"" and head.headers["content-length"] == str(len(first.content))
    assert missing.status_code == 404 and "ord_missing" in missing.json()["detail"]
    assert changes == []


async def test_broken_get_counts_every_view_as_an_effect_of_the_reading_op(open_orders: OpenOrders) -> None:
    async with open_orders("broken-get-counts-views") as client:
        order_id = await _place(client)
        first = await _get(client, order_id, ACT)
        await client.head(f"/orders/{order_id}", headers=ACT)
        second = await _get(client, order_id, ACT)
        unreferenced = await _get(client, order_id)
        changes = await _changes(client)
    assert [first["views"], second["views"], unreferenced["views"]] == [1, 3, 4]
    assert changes == [("view", "op-1")] * 3  # a GET without X-Reference counts but records no row


@pytest.mark.parametrize("variant", ["naive", "idempotent", "idempotent-postgres", "broken-delete-500"])
async def test_a_repeated_put_leaves_the_state_of_one_put(open_orders: OpenOrders, variant: str) -> None:
    async with open_orders(variant) as client:
        order_id = await _place(client)
        first = await client.put(f"/orders/{order_id}/address", json=ADDRESS)
        second = await client.put(f"/orders/{order_id}/address", json=ADDRESS)
        moved = await client.put(f"/orders/{order_id}/address", json={**ADDRESS, "city": "York",
                                                                       "reference": "op-2"})
        changes = await _changes(client)
    assert (first.status_code, second.status_code, moved.status_code) == (200, 200, 200)
    assert second.content == first.content
    assert first.json()["address"] == {"line1": "1 Main St", "city": "Leeds", "postcode": None}
    assert first.json()["address_changes"] == 1
    assert (moved.json()["address"]["city"], moved.json()["address_changes"]) == ("York", 2)
    assert changes == [("address", "op-1"), ("address", "op-2")]


async def test_broken_put_appends_a_history_row_per_call(open_orders: OpenOrders) -> None:
    async with open_orders("broken-put-appends") as client:
        order_id = await _place(client)
        first = await client.put(f"/orders/{order_id}/address", json=ADDRESS)
        second = await client.put(f"/orders/{order_id}/address", json=ADDRESS)
        changes = await _changes(client)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["address"] == second.json()["address"]
    assert [first.json()["address_changes"], second.json()["address_changes"]] == [1, 2]
    assert changes == [("address", "op-1"), ("address", "op-1")]


@pytest.mark.parametrize("variant", ["idempotent", "idempotent-postgres"])
async def test_two_concurrent_identical_puts_change_the_address_once(open_orders: OpenOrders,
                                                                    variant: str) -> None:
    async with open_orders(variant) as client:
        order_id = await _place(client)
    async with open_orders(variant, work=both_at_once()) as client:  # same test: same database
        responses = await asyncio.gather(*(client.put(f"/orders/{order_id}/address", json=ADDRESS)
                                           for _ in range(2)))
        changes = await _changes(client)
    assert [r.status_code for r in responses] == [200, 200]
    assert [r.json()["address_changes"] for r in responses] == [1, 1]
    assert changes == [("address", "op-1")]


@pytest.mark.parametrize(("variant", "repeat_status"), [
    ("naive", 404), ("idempotent", 404), ("idempotent-postgres", 404), ("broken-delete-500", 500),
])
async def test_a_repeated_delete(open_orders: OpenOrders, variant: str, repeat_status: int) -> None:
    async with open_orders(variant) as client:
        order_id = await _place(client)
        first = await client.delete(f"/orders/{order_id}", headers=ACT)
        second = await client.delete(f"/orders/{order_id}", headers=ACT)
        after = await client.get(f"/orders/{order_id}")
        put_after = await client.put(f"/orders/{order_id}/address", json=ADDRESS)
        never_placed = await client.delete("/orders/ord_missing", headers=ACT)
        effects = await effects_of(client)
    assert (first.status_code, first.content) == (204, b"")
    assert second.status_code == repeat_status
    assert (after.status_code, put_after.status_code, never_placed.status_code) == (404, 404, 404)
    assert [(row.get("change"), row["reference"]) for row in effects] == [
        (None, "op-1.create"), ("cancel", "op-1")]  # the cancelled order is still an effect


@pytest.mark.parametrize("variant", KEYED_PATCH)
async def test_a_keyed_patch_is_applied_once_and_replayed(open_orders: OpenOrders, variant: str) -> None:
    async with open_orders(variant) as client:
        order_id, other_id = await _place(client), await _place(client, key="create-2")
        path, key = f"/orders/{order_id}", {"Idempotency-Key": "patch-1"}
        first = await client.patch(path, json=INCREMENT, headers=key)
        retry = await client.patch(path, json=INCREMENT, headers=key)
        changed = await client.patch(path, json={**INCREMENT, "by": 1}, headers=key)
        elsewhere = await client.patch(f"/orders/{other_id}", json=INCREMENT, headers=key)
        keyless = await client.patch(path, json=INCREMENT)
        state = await _get(client, order_id)
        changes = await _changes(client)
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content and retry.headers["Idempotent-Replayed"] == "true"
    assert (changed.status_code, elsewhere.status_code, keyless.status_code) == (422, 422, 400)
    assert first.json()["quantity"] == state["quantity"] == ORDER["quantity"] + INCREMENT["by"]
    assert changes == [("increment", "op-1")]


async def test_a_keyed_patch_of_a_missing_order_is_404_and_stores_no_key(open_orders: OpenOrders) -> None:
    async with open_orders("idempotent") as client:
        missing = await client.patch("/orders/ord_missing", json=INCREMENT, headers={"Idempotency-Key": "p"})
        again = await client.patch("/orders/ord_missing", json=INCREMENT, headers={"Idempotency-Key": "p"})
    assert (missing.status_code, again.status_code) == (404, 404)
    assert "Idempotent-Replayed" not in again.headers


async def test_a_naive_patch_is_applied_on_every_call(open_orders: OpenOrders) -> None:
    async with open_orders("naive") as client:
        order_id = await _place(client)
        first = await client.patch(f"/orders/{order_id}", json=INCREMENT, headers={"Idempotency-Key": "p"})
        retry = await client.patch(f"/orders/{order_id}", json=INCREMENT, headers={"Idempotency-Key": "p"})
        keyless = await client.patch(f"/orders/{order_id}", json=INCREMENT)
        changes = await _changes(client)
    assert [r.status_code for r in (first, retry, keyless)] == [200, 200, 200]
    assert [r.json()["quantity"] for r in (first, retry, keyless)] == [5, 8, 11]
    assert changes == [("increment", "op-1")] * 3


@pytest.mark.parametrize("body", [
    {**INCREMENT, "op": "set"}, {**INCREMENT, "field": "sku"}, {**INCREMENT, "by": 0},
    {"line1": "1 Main St"},
])
async def test_invalid_patches_are_422_problems_without_effects(open_orders: OpenOrders,
                                                                body: dict[str, Any]) -> None:
    async with open_orders("naive") as client:
        order_id = await _place(client)
        response = await client.patch(f"/orders/{order_id}", json=body)
        state = await _get(client, order_id)
        changes = await _changes(client)
    assert response.status_code == 422
    assert state["quantity"] == ORDER["quantity"] and changes == []


async def test_options_and_405_name_the_methods_each_path_serves(open_orders: OpenOrders) -> None:
    async with open_orders("idempotent") as client:
        order_id = await _place(client)
        options = await client.options(f"/orders/{order_id}")
        post = await client.post(f"/orders/{order_id}", json=ORDER)
        address_options = await client.options(f"/orders/{order_id}/address")
        address_get = await client.get(f"/orders/{order_id}/address")
    assert (options.status_code, options.headers["allow"]) == (204, "GET, HEAD, PATCH, DELETE, OPTIONS")
    assert (post.status_code, post.headers["allow"]) == (405, options.headers["allow"])
    assert (address_options.status_code, address_options.headers["allow"]) == (204, "PUT, OPTIONS")
    assert (address_get.status_code, address_get.headers["allow"]) == (405, "PUT, OPTIONS")


def test_a_crash_after_a_patch_commits_leaves_it_applied_once_and_replayable(
        start_target: StartTarget) -> None:
    """The standard failpoint applies to the new writes: the increment and its key commit together."""
    target = start_target("orders", "idempotent")
    created = httpx.post(f"{target.base_url}/orders", json=ORDER, headers={"Idempotency-Key": "c"}, timeout=5)
    order_id = created.json()["id"]
    target.process.kill()
    target.process.wait(timeout=10)
    crash_after_commit = {"HARNESS_FAILPOINTS": "after_commit_before_response=1"}
    crashing = start_target("orders", "idempotent", env=crash_after_commit, incarnation=1)
    url = f"{crashing.base_url}/orders/{order_id}"
    with pytest.raises(httpx.TransportError):
        httpx.patch(url, json=INCREMENT, headers={"Idempotency-Key": "p"}, timeout=5)
    assert crashing.process.wait(timeout=10) == 17
    restarted = start_target("orders", "idempotent", incarnation=2)
    url = f"{restarted.base_url}/orders/{order_id}"
    retry = httpx.patch(url, json=INCREMENT, headers={"Idempotency-Key": "p"}, timeout=5)
    assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (200, "true")
    assert retry.json()["quantity"] == httpx.get(url, timeout=5).json()["quantity"] == 5
    assert [row.get("change") for row in restarted.effects()] == [None, "increment"]
