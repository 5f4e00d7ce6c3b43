"""Reference target `inventory`: `POST /reservations` takes stock, in four variants, one subtly broken.

    python -m targets.inventory.app --host 127.0.0.1 --port PORT --variant VARIANT --db PATH

- naive (SQLite): every request runs `stock = stock - n` and records a movement; a retry after a lost
  response takes the stock twice.
- idempotent (SQLite): a reservation row keyed by the Idempotency-Key (UNIQUE) is claimed in the same
  transaction as the decrement and its movement, and holds the response; a retry replays it (201,
  `Idempotent-Replayed: true`), another payload with the key gets 422.
- idempotent-cas: compare-and-set instead of a decrement in the database: read stock and version
  without a lock, do the work, then write `stock = seen - n WHERE version = seen_version` and retry on
  a conflict (up to 50 times, then 503), with the same keyed reservation in that transaction. It runs on
  Postgres when HARNESS_POSTGRES_DSN is set (the harness sets it when the scenario asks for postgres),
  and on the SQLite file otherwise, so the variant works in a run without services.
- broken-check-then-act (SQLite): look the reservation up; if absent do the work (HARNESS_WORK_MS,
  failpoint `between_check_and_act`), decrement and insert it, with no constraint on the key.
  Sequential retries replay; two overlapping attempts of one operation take the stock twice.

Also `GET /health`, `GET /effects` (every stock movement) and `GET /stock/{sku}`. Faults come from
HARNESS_FAILPOINTS, HARNESS_SEED, HARNESS_INCARNATION and HARNESS_WORK_MS (see targetkit.config).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import FastAPI

from targets.inventory.models import ReservationRequest
from targets.inventory.stock import (
    INVENTORY_SCHEMA,
    KEY_GUARD_SCHEMA,
    StockLevel,
    claim_reservation,
    compare_and_set,
    complete_reservation,
    decrement,
    find_reservation,
    insert_reservation,
    list_effects,
    read_stock,
    record_movement,
)
from targets.targetkit import (
    Outcome,
    Problem,
    ProblemError,
    StoredResponse,
    TargetConfig,
    Verdict,
    new_app,
    simulated_work,
)
from targets.targetkit.check_then_act import BETWEEN_CHECK_AND_ACT, check_then_act
from targets.targetkit.commit import commit_in
from targets.targetkit.failpoints import STANDARD_FAILPOINTS
from targets.targetkit.launch import launch
from targets.targetkit.problems import problem_type
from targets.targetkit.replay import KeyedResponse, replay_or_refuse
from targets.targetkit.routes import Wiring, add_keyed_post, add_naive_post
from targets.targetkit.sql import Dialect, Sql
from targets.targetkit.stores import POSTGRES_DSN_ENV, open_sql_store

FAILPOINTS = STANDARD_FAILPOINTS | {BETWEEN_CHECK_AND_ACT}
MAX_CAS_ATTEMPTS = 50


class _VersionConflict(Exception):
    """The stock changed since it was read: roll the transaction back and read again."""


def _take_stock(sql: Sql, request: ReservationRequest) -> StoredResponse:
    stock_after = decrement(sql, request.sku, request.quantity)
    return record_movement(sql, request.sku, request.quantity, request.reference, stock_after)


def _reserve_naively(wiring: Wiring, request: ReservationRequest) -> Outcome:
    wiring.work()
    return Outcome(Verdict.FRESH, commit_in(wiring.store.transaction(), wiring.failpoints,
                                            partial(_take_stock, request=request)))


def _replay_stored(wiring: Wiring, key: str, payload_fingerprint: str) -> Outcome | None:
    with wiring.store.reading() as sql:
        found = find_reservation(sql, key)
    return None if found is None else replay_or_refuse(found, payload_fingerprint)


def _claim_then(sql: Sql, key: str, payload_fingerprint: str,
                take: Callable[[Sql], StoredResponse]) -> Outcome:
    """Claim the key's reservation; if another request holds it, replay that one, else `take` the stock."""
    if not claim_reservation(sql, key, payload_fingerprint):
        winner = find_reservation(sql, key)  # committed by the request we raced; visible to this statement
        assert winner is not None, "ON CONFLICT did nothing, so a reservation with the key exists"
        return replay_or_refuse(winner, payload_fingerprint)
    response = take(sql)
    complete_reservation(sql, key, response)
    return Outcome(Verdict.FRESH, response)


def _reserve_once(wiring: Wiring, request: ReservationRequest, key: str, payload_fingerprint: str) -> Outcome:
    """The lookup first is only a fast path for replays; the claim in the decrement's transaction decides."""
    replay = _replay_stored(wiring, key, payload_fingerprint)
    if replay is not None:
        return replay
    wiring.work()
    take = partial(_take_stock, request=request)
    return commit_in(wiring.store.transaction(), wiring.failpoints,
                     lambda sql: _claim_then(sql, key, payload_fingerprint, take))


def _reserve_with_cas(wiring: Wiring, request: ReservationRequest, key: str,
                      payload_fingerprint: str) -> Outcome:
    """Optimistic: read without a lock, write only if nobody wrote since; the work widens the window."""
    for attempt in range(MAX_CAS_ATTEMPTS):
        replay = _replay_stored(wiring, key, payload_fingerprint)
        if replay is not None:
            return replay
        with wiring.store.reading() as sql:
            seen = read_stock(sql, request.sku)
        if attempt == 0:
            wiring.work()

        def take(sql: Sql, seen: StockLevel = seen) -> StoredResponse:
            stock_after = compare_and_set(sql, request.sku, seen, request.quantity)
            if stock_after is None:
                raise _VersionConflict
            return record_movement(sql, request.sku, request.quantity, request.reference, stock_after)

        try:
            return commit_in(wiring.store.transaction(), wiring.failpoints,
                             lambda sql: _claim_then(sql, key, payload_fingerprint, take))
        except _VersionConflict:
            continue
    raise ProblemError(Problem(
        status=503, title="Stock is contended", type=problem_type("stock-contended"),
        detail=f"The stock of {request.sku!r} changed under {MAX_CAS_ATTEMPTS} attempts in a row; retry.",
    ))


def _reserve_checking_first(wiring: Wiring, request: ReservationRequest, key: str,
                            payload_fingerprint: str) -> Outcome:
    """BROKEN on purpose: check, then act, with nothing held in between and no constraint behind."""
    def find() -> KeyedResponse | None:
        with wiring.store.reading() as sql:
            return find_reservation(sql, key)

    def take_and_record(sql: Sql) -> StoredResponse:
        response = _take_stock(sql, request)
        insert_reservation(sql, key, payload_fingerprint, response)
        return response

    return check_then_act(payload_fingerprint, find, wiring.work, wiring.failpoints,
                          lambda: commit_in(wiring.store.transaction(), wiring.failpoints, take_and_record))


KeyedHandler = Callable[[Wiring, ReservationRequest, str, str], Outcome]


@dataclass(frozen=True)
class Variant:
    keyed: KeyedHandler | None  # None: the naive handler, which ignores the key
    guarded: bool = False  # whether the UNIQUE constraint on the reservation key exists
    postgres_when_set: bool = False  # Postgres if HARNESS_POSTGRES_DSN is set, else SQLite

    def dialect(self, environ: Mapping[str, str]) -> Dialect:
        use_postgres = self.postgres_when_set and environ.get(POSTGRES_DSN_ENV, "").strip()
        return "postgres" if use_postgres else "sqlite"


VARIANTS: dict[str, Variant] = {
    "naive": Variant(None),
    "idempotent": Variant(_reserve_once, guarded=True),
    "idempotent-cas": Variant(_reserve_with_cas, guarded=True, postgres_when_set=True),
    "broken-check-then-act": Variant(_reserve_checking_first),
}


def create_app(config: TargetConfig, environ: Mapping[str, str], *,
               work: Callable[[], None] | None = None) -> FastAPI:
    """Build the app for `config`; `work` replaces the HARNESS_WORK_MS pause (a hook for tests)."""
    variant = VARIANTS[config.variant]
    schema = INVENTORY_SCHEMA + (KEY_GUARD_SCHEMA if variant.guarded else "")
    store = open_sql_store(variant.dialect(environ), config, environ, schema)
    app = new_app("inventory", config.variant)
    wiring = Wiring(store, config.make_failpoints(), work or simulated_work(config.work_ms))
    if variant.keyed is None:
        add_naive_post(app, "/reservations", ReservationRequest, partial(_reserve_naively, wiring))
    else:
        add_keyed_post(app, "/reservations", ReservationRequest, partial(variant.keyed, wiring))

    @app.get("/effects")
    def effects() -> list[dict[str, Any]]:
        return list_effects(store)

    @app.get("/stock/{sku}")
    def stock(sku: str) -> dict[str, Any]:
        with store.reading() as sql:
            level = read_stock(sql, sku)
        return {"sku": sku, "quantity": level.quantity, "version": level.version, "store": store.dialect}

    return app


def main() -> None:
    launch(create_app, description="Reference inventory target for the idempotency harness.",
           variants=tuple(VARIANTS), known_failpoints=FAILPOINTS)


if __name__ == "__main__":
    main()
