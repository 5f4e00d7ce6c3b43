"""Reference target `payments`: `POST /charges` in naive, idempotent and Redis-keyed variants.

    python -m targets.payments.app --host 127.0.0.1 --port PORT --variant VARIANT --db PATH

- naive: every request creates a charge; the Idempotency-Key header and `reference` are ignored, so a
  retry after a lost response charges twice. That is the bug the harness measures.
- idempotent: the Idempotency-Key header is required (400 without it); the first completed response is
  stored with the charge in one transaction and replayed for the same key (`Idempotent-Replayed: true`);
  409 while the first request with the key runs, 422 if the key comes back with a different payload.
- idempotent-redis: the same answers, with the key kept in Redis (HARNESS_REDIS_URL, every key prefixed
  with HARNESS_REDIS_PREFIX): `SET NX` of an in-flight marker with a TTL, then the stored response with
  a TTL; the charge itself stays in SQLite. See targetkit.redis_idempotency for what it cannot cover.
- broken-redis-key-after-effect: `GET` the key, charge, and only then `SET` the response: a retry racing
  the first attempt, or a crash between the charge and the `SET`, charges twice.

Also `GET /health` and `GET /effects` (every charge, read by the harness's effects probe). Faults come
from HARNESS_FAILPOINTS, HARNESS_SEED, HARNESS_INCARNATION and HARNESS_WORK_MS (see targetkit.config).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from fastapi import FastAPI

from targets.payments.ledger import CHARGES_SCHEMA, insert_charge, list_effects
from targets.payments.models import ChargeRequest
from targets.targetkit import (
    KEYSTORE_SCHEMA,
    Database,
    Failpoints,
    IdempotentExecutor,
    Outcome,
    StoredResponse,
    TargetConfig,
    Verdict,
    commit_effect,
    json_response,
    new_app,
    simulated_work,
)
from targets.targetkit.check_then_act import BETWEEN_CHECK_AND_ACT
from targets.targetkit.failpoints import STANDARD_FAILPOINTS
from targets.targetkit.launch import launch
from targets.targetkit.redis_idempotency import KeyAfterEffectExecutor, RedisIdempotentExecutor
from targets.targetkit.routes import add_keyed_post, add_naive_post
from targets.targetkit.stores import RedisHandle, open_redis

CHARGES_SCOPE = "POST /charges"

Work = Callable[[], None]


def _charge_writer(request: ChargeRequest) -> Callable[[sqlite3.Connection], StoredResponse]:
    def write(conn: sqlite3.Connection) -> StoredResponse:
        return json_response(201, insert_charge(conn, request))

    return write


def _add_naive_charges(app: FastAPI, db: Database, failpoints: Failpoints, work: Work) -> None:
    def create_charge(request: ChargeRequest) -> Outcome:
        work()
        return Outcome(Verdict.FRESH, commit_effect(db, failpoints, _charge_writer(request)))

    add_naive_post(app, "/charges", ChargeRequest, create_charge)


def _add_idempotent_charges(app: FastAPI, db: Database, failpoints: Failpoints, work: Work) -> None:
    executor = IdempotentExecutor(db, failpoints, scope=CHARGES_SCOPE)

    def create_charge(request: ChargeRequest, key: str, payload_fingerprint: str) -> Outcome:
        return executor.execute(key, payload_fingerprint, work, _charge_writer(request))

    add_keyed_post(app, "/charges", ChargeRequest, create_charge)


class KeyedExecutor(Protocol):
    def execute(self, key: str, payload_fingerprint: str, work: Work,
                act: Callable[[], StoredResponse]) -> Outcome: ...


def _add_redis_keyed_charges(app: FastAPI, db: Database, failpoints: Failpoints, work: Work,
                             executor: KeyedExecutor) -> None:
    def create_charge(request: ChargeRequest, key: str, payload_fingerprint: str) -> Outcome:
        return executor.execute(key, payload_fingerprint, work,
                                lambda: commit_effect(db, failpoints, _charge_writer(request)))

    add_keyed_post(app, "/charges", ChargeRequest, create_charge)


_CHARGE_ROUTES: dict[str, Callable[[FastAPI, Database, Failpoints, Work], None]] = {
    "naive": _add_naive_charges,
    "idempotent": _add_idempotent_charges,
}
_REDIS_EXECUTORS: dict[str, Callable[[RedisHandle, Failpoints], KeyedExecutor]] = {
    "idempotent-redis": lambda redis, _: RedisIdempotentExecutor(redis, CHARGES_SCOPE),
    "broken-redis-key-after-effect": lambda redis, failpoints: KeyAfterEffectExecutor(
        redis, CHARGES_SCOPE, failpoints),
}
VARIANTS = (*_CHARGE_ROUTES, *_REDIS_EXECUTORS)
FAILPOINTS = STANDARD_FAILPOINTS | {BETWEEN_CHECK_AND_ACT}


def create_app(config: TargetConfig, environ: Mapping[str, str] | None = None, *,
               work: Work | None = None) -> FastAPI:
    """Build the app for `config`; `work` replaces the HARNESS_WORK_MS pause (a hook for tests)."""
    db = Database(config.db_path, KEYSTORE_SCHEMA + CHARGES_SCHEMA)
    app = new_app("payments", config.variant)
    failpoints, work = config.make_failpoints(), work or simulated_work(config.work_ms)
    make_executor = _REDIS_EXECUTORS.get(config.variant)
    if make_executor is None:
        _CHARGE_ROUTES[config.variant](app, db, failpoints, work)
    else:
        redis = open_redis(environ or {}, config.variant)
        _add_redis_keyed_charges(app, db, failpoints, work, make_executor(redis, failpoints))

    @app.get("/effects")
    def effects() -> list[dict[str, Any]]:
        return list_effects(db)

    return app


def main() -> None:
    launch(create_app, description="Reference payments target for the idempotency harness.",
           variants=VARIANTS, known_failpoints=FAILPOINTS)


if __name__ == "__main__":
    main()
