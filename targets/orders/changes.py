"""An order after it is placed: its representation, and the changes PUT, PATCH, DELETE and GET make.

Every change is a single conditional `UPDATE` on the order's row, so it is atomic on SQLite and on
Postgres alike: under READ COMMITTED a concurrent second `UPDATE` waits for the first and re-reads the
row before it decides. A change that happened records a row in `order_changes` with the op reference of
the request that made it: the effect the harness counts. Whether a repeated request changes anything
again is what the variants differ in, and the callers decide it (`every_call`).
"""

from __future__ import annotations

import enum
import json
import time
from typing import Any

from targets.targetkit.sql import Row, Sql

_STANDING = "id = ? AND cancelled_at IS NULL"
_REPRESENTATION = "id, sku, quantity, customer, reference, address, address_changes, views"


class Cancellation(enum.Enum):
    """What a cancellation found."""

    CANCELLED = "cancelled"  # the order stood, and now it is cancelled
    ALREADY_CANCELLED = "already_cancelled"
    MISSING = "missing"  # no order with that id was ever placed


def _as_representation(row: Row) -> dict[str, Any]:
    address = row["address"]
    return {**row, "address": None if address is None else json.loads(address)}


def read_order(sql: Sql, order_id: str) -> dict[str, Any] | None:
    """The order as `GET /orders/{id}` shows it, or None if it was never placed or is cancelled."""
    row = sql.one(f"SELECT {_REPRESENTATION} FROM orders WHERE {_STANDING}", (order_id,))
    return None if row is None else _as_representation(row)


def record_change(sql: Sql, order_id: str, change: str, reference: str) -> None:
    sql.execute("INSERT INTO order_changes (order_id, change, reference, created_at) VALUES (?, ?, ?, ?)",
                (order_id, change, reference, time.time()))


def _change(sql: Sql, order_id: str, change: str, reference: str | None, assignments: str,
            params: tuple[Any, ...], unless: str = "", unless_params: tuple[Any, ...] = ()) -> bool:
    """Apply `assignments` to the standing order (and only if `unless` holds); record the change with
    `reference` when one is given. Returns whether the row changed."""
    changed = sql.execute(f"UPDATE orders SET {assignments} WHERE {_STANDING}{unless}",
                          (*params, order_id, *unless_params))
    if changed and reference is not None:
        record_change(sql, order_id, change, reference)
    return changed > 0


def replace_address(sql: Sql, order_id: str, address: dict[str, Any], reference: str, *,
                    every_call: bool) -> None:
    """Set the address. Correct: only a different address is a change (so a repeated PUT changes
    nothing); `every_call`: BROKEN on purpose, each call is appended to the history and counted."""
    text = json.dumps(address, sort_keys=True, separators=(",", ":"))
    differs = ("", ()) if every_call else (" AND (address IS NULL OR address <> ?)", (text,))
    _change(sql, order_id, "address", reference, "address = ?, address_changes = address_changes + 1",
            (text,), *differs)


def increment_quantity(sql: Sql, order_id: str, by: int, reference: str) -> None:
    """Add `by` to the quantity: a relative change, applied again on every call that reaches it."""
    _change(sql, order_id, "increment", reference, "quantity = quantity + ?", (by,))


def count_view(sql: Sql, order_id: str, reference: str | None) -> None:
    """BROKEN on purpose when a GET calls it: reading the order changes it (and records the view)."""
    _change(sql, order_id, "view", reference, "views = views + 1", ())


def cancel_order(sql: Sql, order_id: str, reference: str | None) -> Cancellation:
    """Cancel the order (the row stays, so its creation is still an effect); a second call finds it
    already cancelled."""
    if _change(sql, order_id, "cancel", reference, "cancelled_at = ?", (time.time(),)):
        return Cancellation.CANCELLED
    placed = sql.one("SELECT id FROM orders WHERE id = ?", (order_id,))
    return Cancellation.MISSING if placed is None else Cancellation.ALREADY_CANCELLED
