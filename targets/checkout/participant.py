"""A saga participant (payments, inventory or shipping): its forward kind, its compensation, its ledger.

`POST /<forward>` and `POST /<compensation>` take a `StepRequest`. A kind that the variant dedupes needs
an Idempotency-Key (400 without) and answers a repeated key with the first answer (`Idempotent-Replayed`),
409 while the first request with it still runs: the kit's `IdempotentExecutor`, with the effect and the
key committed together. A kind that is not deduped applies every request and only records the key sent.
Refusals (out of stock, a step compensated before it ran) are 409 problems that store no key.

Also `GET /ledger` (every effect row), `GET /effects` (forward effects only, for the harness's HTTP
effects probe: `reference` is the checkout's op id) and `GET /state` (the level of every item).

No `from __future__ import annotations`: FastAPI reads the route's annotations as objects.
"""

import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Response

from targets.checkout.ledger import LEDGER_SCHEMA, apply_compensation, apply_forward, ledger_rows, levels
from targets.checkout.models import PARTICIPANTS, Participant, StepRequest
from targets.checkout.settings import ParticipantSettings
from targets.checkout.variants import ParticipantBehaviour
from targets.targetkit import Outcome, TargetConfig, Verdict, new_app, simulated_work
from targets.targetkit.commit import commit_in
from targets.targetkit.http_idempotency import outcome_response, parse_idempotency_key
from targets.targetkit.idempotency import IdempotentExecutor
from targets.targetkit.keystore import KEYSTORE_SCHEMA, StoredResponse
from targets.targetkit.routes import IdempotencyKeyHeader, PayloadFingerprint, Wiring
from targets.targetkit.sql import Sql
from targets.targetkit.stores import open_sql_store


def initial_level(participant: Participant, settings: ParticipantSettings) -> int:
    return {"inventory": settings.initial_stock, "shipping": settings.shipping_slots}.get(participant.name, 0)


def _slow_first(first_ms: int | None, work: Callable[[], None]) -> Callable[[], None]:
    """`work`, except that the first call takes `first_ms` instead (CHECKOUT_SLOW_FIRST)."""
    if first_ms is None:
        return work
    first = threading.Lock()

    def work_or_hiccup() -> None:
        if first.acquire(blocking=False):  # never released: only one call ever gets it
            time.sleep(first_ms / 1000)
        else:
            work()

    return work_or_hiccup


def _add_kind(app: FastAPI, wiring: Wiring, kind: str, deduped: bool,
              write: Callable[[Sql, StepRequest, str | None], StoredResponse]) -> None:
    """`POST /<kind>`: keyed through the kit's executor when `deduped`, else applied every time."""
    executor = IdempotentExecutor(wiring.store, wiring.failpoints, scope=f"POST /{kind}")

    def handle(request: StepRequest, payload_fingerprint: PayloadFingerprint,
               idempotency_key: IdempotencyKeyHeader = None) -> Response:
        if deduped:
            key = parse_idempotency_key(idempotency_key)
            return outcome_response(executor.execute(key, payload_fingerprint, wiring.work,
                                                     lambda sql: write(sql, request, key)))
        sent = idempotency_key.strip().strip('"') if idempotency_key else None
        wiring.work()
        committed = commit_in(wiring.store.transaction(), wiring.failpoints,
                              lambda sql: write(sql, request, sent))
        return outcome_response(Outcome(Verdict.FRESH, committed))

    app.post(f"/{kind}", status_code=201)(handle)


def create_participant_app(config: TargetConfig, role: str, behaviour: ParticipantBehaviour,
                           settings: ParticipantSettings) -> FastAPI:
    participant = PARTICIPANTS[role]
    initial = initial_level(participant, settings)
    store = open_sql_store("sqlite", config, {}, KEYSTORE_SCHEMA + LEDGER_SCHEMA)
    app = new_app(f"checkout-{role}", config.variant)
    failpoints = config.make_failpoints()
    slow = settings.slow_ms or {}

    def wiring(kind: str) -> Wiring:
        return Wiring(store, failpoints, _slow_first(slow.get(kind), simulated_work(config.work_ms)))

    _add_kind(app, wiring(participant.forward), participant.forward, behaviour.dedupe_forward,
              lambda sql, request, key: apply_forward(sql, participant, initial, request, key,
                                                      fence=behaviour.fence_late_forward))
    _add_kind(app, wiring(participant.compensation), participant.compensation, behaviour.dedupe_compensation,
              lambda sql, request, key: apply_compensation(sql, participant, initial, request, key))

    @app.get("/ledger")
    def ledger() -> list[dict[str, Any]]:
        return ledger_rows(store, participant.kinds)

    @app.get("/effects")
    def effects() -> list[dict[str, Any]]:
        return ledger_rows(store, (participant.forward,))

    @app.get("/state")
    def state() -> dict[str, Any]:
        return {"participant": role, "initial_level": initial, "floor": participant.floor,
                "levels": levels(store)}

    return app

