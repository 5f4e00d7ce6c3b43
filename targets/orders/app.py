"""Reference target `orders`: `POST /orders` and the methods of one order, in eight variants.

    python -m targets.orders.app --host 127.0.0.1 --port PORT --variant VARIANT --db PATH

- naive (SQLite): every request is a new order with a fresh uuid4 id; the Idempotency-Key header and
  `reference` are ignored, so a retry after a lost response orders twice.
- idempotent (SQLite) and idempotent-postgres (HARNESS_POSTGRES_DSN): the order row carries the key
  under a UNIQUE constraint; `INSERT ... ON CONFLICT (idempotency_key) DO NOTHING RETURNING`, and when
  nothing was inserted the existing order is replayed (201, same body, `Idempotent-Replayed: true`), or
  422 if the key comes with another payload. A concurrent retry waits for the first one's transaction
  and then replays it, so these variants need no in-flight 409.
- broken-check-then-act (SQLite) and broken-postgres-no-lock (Postgres, READ COMMITTED, no FOR UPDATE,
  no advisory lock): look the key up, and if absent do the work (HARNESS_WORK_MS, failpoint
  `between_check_and_act`) and insert, with no constraint on the key. Sequential retries replay; two
  overlapping attempts of one operation both insert. See targetkit.check_then_act.
- broken-put-appends, broken-delete-500, broken-get-counts-views (SQLite): create as idempotent does,
  and each gets one method of an order wrong (see targets.orders.resource).

Every variant serves one order at `/orders/{id}`: GET and HEAD (safe), `PUT /orders/{id}/address`
and `DELETE /orders/{id}` (idempotent), `PATCH /orders/{id}` with `{"op": "increment", ...}`, applied
on every call by naive and once per Idempotency-Key by every other variant, and OPTIONS. Also
`GET /health` and `GET /effects` (every order, then every change made to one). Faults come from
HARNESS_FAILPOINTS, HARNESS_SEED, HARNESS_INCARNATION and HARNESS_WORK_MS (see targetkit.config).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import FastAPI

from targets.orders.book import (
    KEY_GUARD_SCHEMA,
    ORDERS_SCHEMA,
    find_by_key,
    insert_order,
    insert_order_unless_keyed,
    list_effects,
    new_order,
)
from targets.orders.models import OrderRequest
from targets.orders.resource import Flaw, add_order_routes
from targets.targetkit import (
    Outcome,
    StoredResponse,
    TargetConfig,
    Verdict,
    json_response,
    new_app,
    simulated_work,
)
from targets.targetkit.check_then_act import BETWEEN_CHECK_AND_ACT, check_then_act
from targets.targetkit.commit import commit_in
from targets.targetkit.failpoints import STANDARD_FAILPOINTS
from targets.targetkit.launch import launch
from targets.targetkit.replay import KeyedResponse, replay_or_refuse
from targets.targetkit.routes import Wiring, add_keyed_post, add_naive_post
from targets.targetkit.sql import Dialect, Sql
from targets.targetkit.stores import open_sql_store

FAILPOINTS = STANDARD_FAILPOINTS | {BETWEEN_CHECK_AND_ACT}


KeyedHandler = Callable[[Wiring, OrderRequest, str, str], Outcome]


def _order_for(request: OrderRequest) -> dict[str, Any]:
    return new_order(request.sku, request.quantity, request.customer, request.reference)


def _create_naively(wiring: Wiring, request: OrderRequest) -> Outcome:
    wiring.work()
    order = _order_for(request)
    commit_in(wiring.store.transaction(), wiring.failpoints, lambda sql: insert_order(sql, order))
    return Outcome(Verdict.FRESH, json_response(201, order))


def _create_once(wiring: Wiring, request: OrderRequest, key: str, payload_fingerprint: str) -> Outcome:
    """The lookup first is only a fast path for replays; the unique constraint decides."""
    with wiring.store.reading() as sql:
        found = find_by_key(sql, key)
    if found is not None:
        return replay_or_refuse(found, payload_fingerprint)
    wiring.work()
    order = _order_for(request)

    def write(sql: Sql) -> Outcome:
        if insert_order_unless_keyed(sql, order, key, payload_fingerprint):
            return Outcome(Verdict.FRESH, json_response(201, order))
        winner = find_by_key(sql, key)  # committed by the request we raced; visible to this statement
        assert winner is not None, "ON CONFLICT did nothing, so an order with the key exists"
        return replay_or_refuse(winner, payload_fingerprint)

    return commit_in(wiring.store.transaction(), wiring.failpoints, write)


def _create_checking_first(wiring: Wiring, request: OrderRequest, key: str,
                           payload_fingerprint: str) -> Outcome:
    """BROKEN on purpose: check, then act, with nothing held in between and no constraint behind."""
    def find() -> KeyedResponse | None:
        with wiring.store.reading() as sql:
            return find_by_key(sql, key)

    def act() -> StoredResponse:
        order = _order_for(request)
        commit_in(wiring.store.transaction(), wiring.failpoints,
                  lambda sql: insert_order(sql, order, key, payload_fingerprint))
        return json_response(201, order)

    return check_then_act(payload_fingerprint, find, wiring.work, wiring.failpoints, act)


@dataclass(frozen=True)
class Variant:
    dialect: Dialect
    keyed: KeyedHandler | None  # None: the naive handlers (POST and PATCH), which ignore the key
    guarded: bool = False  # whether the UNIQUE constraint on the key exists
    flaw: Flaw | None = None  # the method of an order this variant gets wrong on purpose


VARIANTS: dict[str, Variant] = {
    "naive": Variant("sqlite", None),
    "idempotent": Variant("sqlite", _create_once, guarded=True),
    "idempotent-postgres": Variant("postgres", _create_once, guarded=True),
    "broken-check-then-act": Variant("sqlite", _create_checking_first),
    "broken-postgres-no-lock": Variant("postgres", _create_checking_first),
    "broken-put-appends": Variant("sqlite", _create_once, guarded=True, flaw=Flaw.PUT_APPENDS),
    "broken-delete-500": Variant("sqlite", _create_once, guarded=True, flaw=Flaw.DELETE_500),
    "broken-get-counts-views": Variant("sqlite", _create_once, guarded=True, flaw=Flaw.GET_COUNTS_VIEWS),
}


def create_app(config: TargetConfig, environ: Mapping[str, str], *,
               work: Callable[[], None] | None = None) -> FastAPI:
    """Build the app for `config`; `work` replaces the HARNESS_WORK_MS pause (a hook for tests)."""
    variant = VARIANTS[config.variant]
    schema = ORDERS_SCHEMA + (KEY_GUARD_SCHEMA if variant.guarded else "")
    store = open_sql_store(variant.dialect, config, environ, schema)
    app = new_app("orders", config.variant)
    wiring = Wiring(store, config.make_failpoints(), work or simulated_work(config.work_ms))
    if variant.keyed is None:
        add_naive_post(app, "/orders", OrderRequest, partial(_create_naively, wiring))
    else:
        add_keyed_post(app, "/orders", OrderRequest, partial(variant.keyed, wiring))
    add_order_routes(app, wiring, keyed_patch=variant.keyed is not None, flaw=variant.flaw)

    @app.get("/effects")
    def effects() -> list[dict[str, Any]]:
        return list_effects(store)

    return app


def main() -> None:
    launch(create_app, description="Reference orders target for the idempotency harness.",
           variants=tuple(VARIANTS), known_failpoints=FAILPOINTS)


if __name__ == "__main__":
    main()
