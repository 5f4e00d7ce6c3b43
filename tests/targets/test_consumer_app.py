"""The consumer target in-process on the embedded queue: what each variant applies, step by step."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import SimulatedCrash, simulated_crash

from targets.consumer.app import FAILPOINTS, VARIANTS, create_app
from targets.consumer.handlers import AFTER_EFFECT_BEFORE_ACK
from targets.targetkit import Failpoints, TargetConfig
from targets.targetkit.worker import run_until_idle

MESSAGE = {"reference": "op-1", "amount": 250}

pytestmark = pytest.mark.anyio


@dataclass
class ConsumerApp:
    client: httpx.AsyncClient
    step: Callable[[], bool]
    app: Any

    async def post(self, key: str | None = None, body: dict[str, Any] = MESSAGE) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key is not None else {}
        return await self.client.post("/messages", json=body, headers=headers)

    async def get(self, path: str) -> Any:
        response = await self.client.get(path)
        assert response.status_code == 200
        return response.json()


@asynccontextmanager
async def _consumer(db_path: Path, variant: str, failpoints: dict[str, float] | None = None
                    ) -> AsyncIterator[ConsumerApp]:
    app = create_app(TargetConfig(variant=variant, db_path=db_path),
                     failpoints=Failpoints(failpoints or {}, crash=simulated_crash))
    app.state.consumer.queue.prepare()  # what the lifespan does at start-up
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://consumer") as client:
        yield ConsumerApp(client, app.state.consumer.step, app)


def test_variants_and_failpoints_are_the_documented_ones() -> None:
    assert VARIANTS == ("naive", "idempotent", "broken-inbox-after-effect")
    assert set(FAILPOINTS) == {"before_commit", "after_commit_before_response", "after_effect_before_ack"}


async def test_a_message_is_applied_once_and_listed_as_an_effect(tmp_path: Path) -> None:
    async with _consumer(tmp_path / "c.db", "naive") as consumer:
        accepted = await consumer.post("key-1")
        before = await consumer.get("/stats")
        busy_steps = run_until_idle(consumer.step)
        after = await consumer.get("/stats")
        effects = await consumer.get("/effects")
    assert (accepted.status_code, accepted.json()) == (202, {"id": "key-1"})
    assert (before, busy_steps, after) == ({"pending": 1}, 1, {"pending": 0})
    [effect] = effects
    assert set(effect) == {"id", "reference", "message_id", "amount", "created_at"}
    assert (effect["reference"], effect["message_id"], effect["amount"]) == ("op-1", "key-1", 250)
    assert effect["id"].startswith("le_")


async def test_without_a_key_every_post_gets_a_new_message_id(tmp_path: Path) -> None:
    async with _consumer(tmp_path / "c.db", "idempotent") as consumer:
        first, second = await consumer.post(), await consumer.post()
        run_until_idle(consumer.step)
        effects = await consumer.get("/effects")
    assert first.json()["id"] != second.json()["id"]
    assert len(effects) == 2


@pytest.mark.parametrize(("variant", "applied"), [
    ("naive", 2), ("idempotent", 1), ("broken-inbox-after-effect", 1),
])
async def test_a_producer_retry_publishes_a_copy_with_the_same_message_id(
        tmp_path: Path, variant: str, applied: int) -> None:
    async with _consumer(tmp_path / "c.db", variant) as consumer:
        first, retry = await consumer.post("key-1"), await consumer.post("key-1")
        run_until_idle(consumer.step)
        effects = await consumer.get("/effects")
        stats = await consumer.get("/stats")
    assert first.json() == retry.json() == {"id": "key-1"}
    assert [e["reference"] for e in effects] == ["op-1"] * applied
    assert stats == {"pending": 0}


@pytest.mark.parametrize(("variant", "applied"), [
    ("naive", 2), ("idempotent", 1), ("broken-inbox-after-effect", 2),
])
async def test_a_crash_after_effect_before_ack_then_a_restart(tmp_path: Path, variant: str,
                                                              applied: int) -> None:
    db = tmp_path / "c.db"
    async with _consumer(db, variant, {AFTER_EFFECT_BEFORE_ACK: 1.0}) as consumer:
        await consumer.post("key-1")
        with pytest.raises(SimulatedCrash):
            consumer.step()
        pending_after_crash = await consumer.get("/stats")
    async with _consumer(db, variant) as restarted:
        run_until_idle(restarted.step)
        effects = await restarted.get("/effects")
        stats = await restarted.get("/stats")
    assert pending_after_crash == {"pending": 1}
    assert [e["reference"] for e in effects] == ["op-1"] * applied
    assert stats == {"pending": 0}


async def test_a_crash_after_the_publish_leaves_one_message_for_the_retry_to_duplicate(
        tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    async with _consumer(db, "idempotent", {"after_commit_before_response": 1.0}) as consumer:
        with pytest.raises(SimulatedCrash):
            await consumer.post("key-1")
    async with _consumer(db, "idempotent") as restarted:
        retry = await restarted.post("key-1")
        queued = await restarted.get("/stats")
        run_until_idle(restarted.step)
        effects = await restarted.get("/effects")
    assert (retry.status_code, queued) == (202, {"pending": 2})
    assert [e["message_id"] for e in effects] == ["key-1"]


async def test_an_invalid_body_is_refused_and_a_poison_message_is_dropped(tmp_path: Path) -> None:
    async with _consumer(tmp_path / "c.db", "naive") as consumer:
        refused = await consumer.post(body={"reference": "op-1", "amount": "250"})
        consumer.app.state.consumer.queue.publish("poison", b"{not json")
        busy_steps = run_until_idle(consumer.step)
        stats = await consumer.get("/stats")
        effects = await consumer.get("/effects")
    assert (refused.status_code, refused.headers["content-type"]) == (422, "application/problem+json")
    assert (busy_steps, stats, effects) == (1, {"pending": 0}, [])
