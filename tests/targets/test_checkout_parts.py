"""Parts of the checkout target in-process: the saga log on both stores, and a participant's refusals."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from targets.checkout.app import create_app
from targets.checkout.models import CheckoutRequest
from targets.checkout.saga_log import COMPENSATION, FORWARD, PENDING, SAGA_LOG_SCHEMA, SagaLog
from targets.targetkit import TargetConfig
from targets.targetkit.sql import SqlStore
from targets.targetkit.stores import open_sql_store

CHECKOUT = CheckoutRequest(customer="cus_1", amount=700, sku="sku_1", quantity=2, address="1 Main St",
                           reference="op-1")
AsgiClient = Callable[[FastAPI], AbstractAsyncContextManager[httpx.AsyncClient]]
STEP = {"saga_id": "saga_1", "step": 2, "item": "sku_1", "amount": 2, "reference": "op-1"}


@pytest.fixture(params=["sqlite", "postgres"])
def saga_store(request: pytest.FixtureRequest, tmp_path: Path) -> SqlStore:
    environ = ({"HARNESS_POSTGRES_DSN": request.getfixturevalue("postgres_dsn")}
               if request.param == "postgres" else {})
    config = TargetConfig(variant="idempotent-postgres", db_path=tmp_path / "sagas.db")
    return open_sql_store(request.param, config, environ, SAGA_LOG_SCHEMA)


def test_the_saga_log_keeps_one_saga_per_key_and_each_step_once(saga_store: SqlStore) -> None:
    log = SagaLog(saga_store)
    saga, created = log.open_saga("k-1", "fp", CHECKOUT)
    again, created_again = log.open_saga("k-1", "fp", CHECKOUT)
    unkeyed = [log.open_saga(None, "fp", CHECKOUT)[0].id for _ in range(2)]
    for _ in range(2):  # a resumed saga records a replayed step again
        log.record(saga.id, 1, "charge", FORWARD)
    log.start_compensation(saga.id, 1)
    log.record(saga.id, 1, "refund", COMPENSATION)

    assert (created, created_again, again.id) == (True, False, saga.id)
    assert len(set(unkeyed)) == 2
    resumed = log.get(saga.id)
    assert (resumed.steps_done, resumed.compensations_done, resumed.compensate_through) == ((1,), (1,), 1)
    assert resumed.request == CHECKOUT
    assert [s.id for s in log.all(PENDING)] == [saga.id, *unkeyed]


def _inventory(tmp_path: Path, variant: str) -> FastAPI:
    config = TargetConfig(variant=variant, db_path=tmp_path / "inventory.db")
    return create_app(config, {"CHECKOUT_ROLE": "inventory", "CHECKOUT_INITIAL_STOCK": "3"})


@pytest.mark.anyio
async def test_stock_never_goes_negative_and_a_refusal_takes_nothing(tmp_path: Path,
                                                                     asgi_client: AsgiClient) -> None:
    async with asgi_client(_inventory(tmp_path, "naive")) as client:
        taken = [(await client.post("/reserve", json={**STEP, "saga_id": f"s{n}"})).status_code
                 for n in range(2)]
        state, ledger = (await client.get("/state")).json(), (await client.get("/ledger")).json()

    assert taken == [201, 409]
    assert state["levels"] == {"sku_1": 1}
    assert [row["kind"] for row in ledger] == ["reserve"]


@pytest.mark.anyio
async def test_idempotent_participant_needs_a_key_replays_it_and_fences_a_late_forward_step(
        tmp_path: Path, asgi_client: AsgiClient) -> None:
    async with asgi_client(_inventory(tmp_path, "idempotent")) as client:
        keyless = await client.post("/reserve", json=STEP)
        release = await client.post("/release", json=STEP, headers={"Idempotency-Key": "saga_1:2:release"})
        replay = await client.post("/release", json=STEP, headers={"Idempotency-Key": "saga_1:2:release"})
        late = await client.post("/reserve", json=STEP, headers={"Idempotency-Key": "saga_1:2:reserve"})
        levels = (await client.get("/state")).json()["levels"]

    assert keyless.status_code == 400
    assert (release.status_code, release.json()["amount"]) == (200, 0)  # nothing to release yet
    assert (replay.headers["Idempotent-Replayed"], replay.json()["id"]) == ("true", release.json()["id"])
    assert (late.status_code, late.json()["type"].rsplit(":", 1)[-1]) == (409, "step-compensated")
    assert levels == {}


def test_a_bad_setting_names_its_variable(tmp_path: Path) -> None:
    config = TargetConfig(variant="idempotent", db_path=tmp_path / "o.db")
    with pytest.raises(ValueError, match="CHECKOUT_PAYMENTS_URL"):
        create_app(config, {})
    with pytest.raises(ValueError, match="CHECKOUT_ROLE"):
        create_app(config, {"CHECKOUT_ROLE": "billing"})
