"""The orders table, on SQLite or Postgres: the effect the harness counts is one row per order.

The row carries the Idempotency-Key that created it (NULL for the naive variant) and the fingerprint
of that request's payload. Only the idempotent variants add the UNIQUE index on the key
(`KEY_GUARD_SCHEMA`): that constraint, not the lookup before it, is what makes them safe. The broken
variants look the key up through a plain index and have no constraint to stop a second insert.

What happens to an order after it is placed (its address, quantity, cancellation, views) is in
`targets.orders.changes`; each such change is a row of `order_changes`, an effect listed with the orders.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from targets.targetkit.http_idempotency import json_response
from targets.targetkit.keystore import KEYSTORE_SCHEMA
from targets.targetkit.replay import KeyedResponse
from targets.targetkit.sql import Row, Sql, SqlStore

ORDERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    seq             {serial},             -- insertion order, for a stable /effects listing
    id              TEXT    NOT NULL UNIQUE,
    sku             TEXT    NOT NULL,
    quantity        INTEGER NOT NULL,
    customer        TEXT    NOT NULL,
    reference       TEXT    NOT NULL,     -- the harness's op id; deliberately NOT unique
    idempotency_key TEXT,                 -- the client's key; NULL when the variant ignores it
    fingerprint     TEXT,                 -- hash of the payload the key was first used with
    created_at      DOUBLE PRECISION NOT NULL,  -- epoch seconds
    address         TEXT,                 -- canonical JSON of the delivery address; NULL until one is set
    address_changes INTEGER NOT NULL DEFAULT 0,
    views           INTEGER NOT NULL DEFAULT 0,
    cancelled_at    DOUBLE PRECISION      -- epoch seconds; NULL while the order stands
);
CREATE INDEX IF NOT EXISTS orders_reference ON orders (reference);
CREATE INDEX IF NOT EXISTS orders_key_lookup ON orders (idempotency_key);
CREATE TABLE IF NOT EXISTS order_changes (
    seq        {serial},
    order_id   TEXT NOT NULL,
    change     TEXT NOT NULL,                 -- address | increment | cancel | view
    reference  TEXT NOT NULL,                 -- the op id of the request that made the change
    created_at DOUBLE PRECISION NOT NULL
);
""" + KEYSTORE_SCHEMA
KEY_GUARD_SCHEMA = "CREATE UNIQUE INDEX IF NOT EXISTS orders_key_unique ON orders (idempotency_key);\n"

ORDER_COLUMNS = "id, sku, quantity, customer, reference, created_at"
_INSERT = ("INSERT INTO orders (id, sku, quantity, customer, reference, idempotency_key, fingerprint,"
           " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def new_order(sku: str, quantity: int, customer: str, reference: str) -> dict[str, Any]:
    """An order as the API shows it, with a fresh id: every call is a new order."""
    return {"id": f"ord_{uuid.uuid4().hex[:24]}", "sku": sku, "quantity": quantity, "customer": customer,
            "reference": reference, "created_at": time.time()}


def _values(order: dict[str, Any], key: str | None, fingerprint: str | None) -> tuple[Any, ...]:
    return (order["id"], order["sku"], order["quantity"], order["customer"], order["reference"], key,
            fingerprint, order["created_at"])


def insert_order(sql: Sql, order: dict[str, Any], key: str | None = None,
                 fingerprint: str | None = None) -> None:
    """Insert unconditionally: what the naive and the broken variants do."""
    sql.execute(_INSERT, _values(order, key, fingerprint))


def insert_order_unless_keyed(sql: Sql, order: dict[str, Any], key: str, fingerprint: str) -> bool:
    """Insert unless an order with `key` exists (needs KEY_GUARD_SCHEMA); returns whether it inserted.

    On Postgres a concurrent insert of the same key waits for the other transaction and then does
    nothing; on SQLite writers are serialised anyway. Either way exactly one order per key commits.
    """
    inserted = sql.one(_INSERT + " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                       _values(order, key, fingerprint))
    return inserted is not None


def _as_order(row: Row) -> dict[str, Any]:
    return {column: row[column] for column in ("id", "sku", "quantity", "customer", "reference",
                                               "created_at")}


def find_by_key(sql: Sql, key: str) -> KeyedResponse | None:
    """The order `key` created, as the response that created it (201 and its body), or None."""
    row = sql.one(f"SELECT {ORDER_COLUMNS}, fingerprint FROM orders WHERE idempotency_key = ?"
                  " ORDER BY seq LIMIT 1", (key,))
    if row is None:
        return None
    return KeyedResponse(row["fingerprint"], json_response(201, _as_order(row)))


def list_effects(store: SqlStore) -> list[dict[str, Any]]:
    """Every committed order, then every change made to one, each oldest first, in the shape the
    harness's effects probe reads (`id`, `reference`, `created_at`)."""
    with store.reading() as sql:
        orders = sql.all("SELECT id, reference, sku, quantity, created_at FROM orders ORDER BY seq")
        changes = sql.all("SELECT seq, order_id, change, reference, created_at FROM order_changes"
                          " ORDER BY seq")
    return orders + [
        {"id": f"{row['order_id']}:{row['change']}:{row['seq']}", "reference": row["reference"],
         "order_id": row["order_id"], "change": row["change"], "created_at": row["created_at"]}
        for row in changes
    ]
