"""The payments target in-process (httpx over ASGI): naive duplicates, idempotent replays and refusals."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import effects_of

from targets.payments.app import create_app
from targets.targetkit import TargetConfig

CHARGE = {"amount": 1250, "currency": "eur", "customer": "cus_1", "reference": "op-1"}
PROBLEM_JSON = "application/problem+json"

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def _client(db_path: Path, variant: str,
                  work: Callable[[], None] | None = None) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(TargetConfig(variant=variant, db_path=db_path), work=work)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://payments") as client:
        yield client


async def _post(client: httpx.AsyncClient, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await client.post("/charges", json=body, headers=headers)


@pytest.mark.parametrize("variant", ["naive", "idempotent"])
async def test_health_names_the_variant(tmp_path: Path, variant: str) -> None:
    async with _client(tmp_path / "p.db", variant) as client:
        response = await client.get("/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "variant": variant})


async def test_naive_charges_twice_for_two_identical_requests(tmp_path: Path) -> None:
    async with _client(tmp_path / "p.db", "naive") as client:
        first = await _post(client, CHARGE, key="k-1")
        second = await _post(client, CHARGE, key="k-1")
        effects = await effects_of(client)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert "Idempotent-Replayed" not in second.headers
    assert [(e["id"], e["reference"], e["amount"]) for e in effects] == [
        (first.json()["id"], "op-1", 1250), (second.json()["id"], "op-1", 1250)]


async def test_charge_body_has_the_documented_shape(tmp_path: Path) -> None:
    async with _client(tmp_path / "p.db", "naive") as client:
        charge = (await _post(client, CHARGE)).json()
        effects = await effects_of(client)
    assert set(charge) == {"id", "amount", "currency", "customer", "reference", "created_at"}
    assert charge["id"].startswith("ch_")
    assert (charge["amount"], charge["currency"], charge["customer"], charge["reference"]) == (
        1250, "EUR", "cus_1", "op-1")
    assert effects == [{"id": charge["id"], "reference": "op-1", "amount": 1250,
                        "created_at": charge["created_at"]}]


async def test_idempotent_requires_the_key(tmp_path: Path) -> None:
    async with _client(tmp_path / "p.db", "idempotent") as client:
        response = await _post(client, CHARGE)
        effects = await effects_of(client)
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert (problem["type"], problem["title"], problem["status"]) == (
        "tag:idempotency-harness,2025:problem:idempotency-key-missing", "Idempotency-Key is missing", 400)
    assert "Idempotency-Key" in problem["detail"]
    assert effects == []


async def test_idempotent_replays_status_and_body_with_the_replay_header(tmp_path: Path) -> None:
    async with _client(tmp_path / "p.db", "idempotent") as client:
        first = await _post(client, CHARGE, key="k-1")
        replay = await _post(client, dict(reversed(CHARGE.items())), key="k-1")  # same payload, other order
        other = await _post(client, {**CHARGE, "reference": "op-2"}, key="k-2")
        effects = await effects_of(client)
    assert first.status_code == replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [e["id"] for e in effects] == [first.json()["id"], other.json()["id"]]


async def test_idempotent_refuses_the_key_with_a_different_payload(tmp_path: Path) -> None:
    async with _client(tmp_path / "p.db", "idempotent") as client:
        first = await _post(client, CHARGE, key="k-1")
        reused = await _post(client, {**CHARGE, "amount": 9999}, key="k-1")
        effects = await effects_of(client)
    assert (first.status_code, reused.status_code) == (201, 422)
    assert reused.headers["content-type"] == PROBLEM_JSON
    assert reused.json()["type"] == "tag:idempotency-harness,2025:problem:idempotency-key-reused"
    assert [e["id"] for e in effects] == [first.json()["id"]]


async def test_idempotent_answers_409_while_the_first_request_is_in_flight(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def blocking_work() -> None:  # runs in the app's worker thread, holding the key in flight
        entered.set()
        assert release.wait(timeout=10), "test never released the first request"

    async with _client(tmp_path / "p.db", "idempotent", work=blocking_work) as client:
        first_task = asyncio.create_task(_post(client, CHARGE, key="k-1"))
        try:
            assert await asyncio.to_thread(entered.wait, 10)
            concurrent = await _post(client, CHARGE, key="k-1")
            concurrent_other_payload = await _post(client, {**CHARGE, "amount": 1}, key="k-1")
            health_meanwhile = await client.get("/health")
        finally:
            release.set()
        first = await first_task
        after = await _post(client, CHARGE, key="k-1")
        effects = await effects_of(client)

    assert concurrent.status_code == 409
    assert concurrent.headers["content-type"] == PROBLEM_JSON
    assert concurrent.json()["type"] == "tag:idempotency-harness,2025:problem:idempotency-key-in-flight"
    assert concurrent_other_payload.status_code == 422
    assert health_meanwhile.status_code == 200
    assert first.status_code == 201
    assert (after.status_code, after.content, after.headers["Idempotent-Replayed"]) == (
        201, first.content, "true")
    assert [e["id"] for e in effects] == [first.json()["id"]]


async def test_eight_concurrent_requests_with_distinct_keys_are_served_together(tmp_path: Path) -> None:
    barrier = threading.Barrier(8, timeout=10)  # breaks (and fails the test) unless all 8 run at once

    def work_that_waits_for_all_eight() -> None:
        barrier.wait()

    async with _client(tmp_path / "p.db", "idempotent", work=work_that_waits_for_all_eight) as client:
        responses = await asyncio.gather(
            *(_post(client, {**CHARGE, "reference": f"op-{n}"}, key=f"k-{n}") for n in range(8)))
        effects = await effects_of(client)
    assert [response.status_code for response in responses] == [201] * 8
    assert sorted(e["reference"] for e in effects) == sorted(f"op-{n}" for n in range(8))


@pytest.mark.parametrize("variant", ["naive", "idempotent"])
@pytest.mark.parametrize(("body", "field"), [
    ({**CHARGE, "amount": 0}, "amount"),
    ({**CHARGE, "amount": "12"}, "amount"),
    ({**CHARGE, "currency": "EURO"}, "currency"),
    ({k: v for k, v in CHARGE.items() if k != "reference"}, "reference"),
])
async def test_invalid_bodies_are_422_problems_without_effects(tmp_path: Path, variant: str,
                                                               body: dict[str, Any], field: str) -> None:
    async with _client(tmp_path / "p.db", variant) as client:
        response = await _post(client, body, key="k-1")
        effects = await effects_of(client)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert (problem["type"], problem["status"]) == ("tag:idempotency-harness,2025:problem:validation", 422)
    assert [error["loc"] for error in problem["errors"]] == [["body", field]]
    assert effects == []


async def test_charges_and_keys_survive_a_new_app_on_the_same_file(tmp_path: Path) -> None:
    async with _client(tmp_path / "p.db", "idempotent") as client:
        first = await _post(client, CHARGE, key="k-1")
    async with _client(tmp_path / "p.db", "idempotent") as client:
        replay = await _post(client, CHARGE, key="k-1")
        effects = await effects_of(client)
    assert (replay.status_code, replay.content) == (201, first.content)
    assert [e["id"] for e in effects] == [first.json()["id"]]
