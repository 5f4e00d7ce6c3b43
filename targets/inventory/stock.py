"""Stock levels, stock movements and reservations, on SQLite or Postgres.

- `stock`: one row per sku with its quantity and a version bumped on every change (for compare-and-set).
  A sku is seeded with `INITIAL_STOCK` on first use, so a run never sells out and no out-of-stock path
  blurs the count of effects.
- `movements`: one row per decrement, with the op's reference: the effect the harness counts.
- `reservations`: the idempotency record of a keyed variant, one row per operation key, written in the
  same transaction as the decrement and its movement, holding the response to replay. Only the
  idempotent variants add the UNIQUE index on the key (`KEY_GUARD_SCHEMA`).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from targets.targetkit.http_idempotency import json_response
from targets.targetkit.keystore import StoredResponse
from targets.targetkit.replay import KeyedResponse
from targets.targetkit.sql import Sql, SqlStore

INITIAL_STOCK = 1_000_000

INVENTORY_SCHEMA = """
CREATE TABLE IF NOT EXISTS stock (
    sku      TEXT   PRIMARY KEY,
    quantity BIGINT NOT NULL,
    version  BIGINT NOT NULL           -- bumped by every change; what compare-and-set compares
);
CREATE TABLE IF NOT EXISTS movements (
    seq        {serial},               -- insertion order, for a stable /effects listing
    id         TEXT    NOT NULL UNIQUE,
    sku        TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    reference  TEXT    NOT NULL,       -- the harness's op id; deliberately NOT unique
    created_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS movements_reference ON movements (reference);
CREATE TABLE IF NOT EXISTS reservations (
    op_key      TEXT NOT NULL,         -- the Idempotency-Key of the operation
    fingerprint TEXT NOT NULL,         -- hash of the payload the key was first used with
    response    TEXT,                  -- body of the 201 to replay; set in the claiming transaction
    created_at  DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS reservations_key_lookup ON reservations (op_key);
"""
KEY_GUARD_SCHEMA = "CREATE UNIQUE INDEX IF NOT EXISTS reservations_key_unique ON reservations (op_key);\n"


@dataclass(frozen=True)
class StockLevel:
    quantity: int
    version: int


def _seed(sql: Sql, sku: str) -> None:
    sql.execute("INSERT INTO stock (sku, quantity, version) VALUES (?, ?, 0) ON CONFLICT (sku) DO NOTHING",
                (sku, INITIAL_STOCK))


def read_stock(sql: Sql, sku: str) -> StockLevel:
    """The sku's level; an unseen sku is at its initial stock, version 0."""
    row = sql.one("SELECT quantity, version FROM stock WHERE sku = ?", (sku,))
    if row is None:
        return StockLevel(INITIAL_STOCK, 0)
    return StockLevel(int(row["quantity"]), int(row["version"]))


def decrement(sql: Sql, sku: str, quantity: int) -> int:
    """`stock = stock - n` in the database: correct under concurrency, and applied once per call."""
    _seed(sql, sku)
    row = sql.one("UPDATE stock SET quantity = quantity - ?, version = version + 1 WHERE sku = ?"
                  " RETURNING quantity", (quantity, sku))
    assert row is not None
    return int(row["quantity"])


def compare_and_set(sql: Sql, sku: str, seen: StockLevel, quantity: int) -> int | None:
    """Write `seen.quantity - n` only if the version is still `seen.version`; None if someone changed it."""
    _seed(sql, sku)
    row = sql.one("UPDATE stock SET quantity = ?, version = ? WHERE sku = ? AND version = ?"
                  " RETURNING quantity", (seen.quantity - quantity, seen.version + 1, sku, seen.version))
    return None if row is None else int(row["quantity"])


def record_movement(sql: Sql, sku: str, quantity: int, reference: str, stock_after: int) -> StoredResponse:
    """Insert the movement (the effect) and return the 201 response that reports it."""
    movement_id = f"mov_{uuid.uuid4().hex[:24]}"
    sql.execute("INSERT INTO movements (id, sku, quantity, reference, created_at) VALUES (?, ?, ?, ?, ?)",
                (movement_id, sku, quantity, reference, time.time()))
    return json_response(201, {"id": movement_id, "sku": sku, "quantity": quantity,
                               "stock_after": stock_after})


def claim_reservation(sql: Sql, key: str, fingerprint: str) -> bool:
    """Insert the reservation for `key` unless one exists (needs KEY_GUARD_SCHEMA); whether it inserted.

    On Postgres a concurrent claim of the same key waits for the other transaction, then does nothing.
    """
    row = sql.one("INSERT INTO reservations (op_key, fingerprint, created_at) VALUES (?, ?, ?)"
                  " ON CONFLICT (op_key) DO NOTHING RETURNING op_key", (key, fingerprint, time.time()))
    return row is not None


def complete_reservation(sql: Sql, key: str, response: StoredResponse) -> None:
    sql.execute("UPDATE reservations SET response = ? WHERE op_key = ?", (response.body, key))


def insert_reservation(sql: Sql, key: str, fingerprint: str, response: StoredResponse) -> None:
    """Insert unconditionally, what the broken variant does: nothing stops a second row for the key."""
    sql.execute("INSERT INTO reservations (op_key, fingerprint, response, created_at) VALUES (?, ?, ?, ?)",
                (key, fingerprint, response.body, time.time()))


def find_reservation(sql: Sql, key: str) -> KeyedResponse | None:
    """The first completed reservation of `key` as the response that made it, or None."""
    row = sql.one("SELECT fingerprint, response FROM reservations WHERE op_key = ? AND response IS NOT NULL"
                  " ORDER BY created_at LIMIT 1", (key,))
    return None if row is None else KeyedResponse(row["fingerprint"], StoredResponse(201, row["response"]))


def list_effects(store: SqlStore) -> list[dict[str, Any]]:
    """Every committed stock movement, oldest first, in the shape the harness's effects probe reads."""
    with store.reading() as sql:
        return sql.all("SELECT id, reference, sku, quantity, created_at FROM movements ORDER BY seq")
