"""The charges table: the effect the harness counts. One row per charge, whatever the variant."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from targets.payments.models import ChargeRequest
from targets.targetkit import Database

CHARGES_SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    seq        INTEGER PRIMARY KEY,   -- insertion order, for a stable /effects listing
    id         TEXT    NOT NULL UNIQUE,
    amount     INTEGER NOT NULL,
    currency   TEXT    NOT NULL,
    customer   TEXT    NOT NULL,
    reference  TEXT    NOT NULL,      -- the harness's op id; deliberately NOT unique
    created_at REAL    NOT NULL       -- epoch seconds
);
CREATE INDEX IF NOT EXISTS charges_reference ON charges (reference);
"""


def insert_charge(conn: sqlite3.Connection, request: ChargeRequest) -> dict[str, Any]:
    """Create one charge inside the caller's transaction and return it as the API shows it."""
    charge: dict[str, Any] = {
        "id": f"ch_{uuid.uuid4().hex[:24]}",
        "amount": request.amount,
        "currency": request.currency,
        "customer": request.customer,
        "reference": request.reference,
        "created_at": time.time(),
    }
    conn.execute(
        "INSERT INTO charges (id, amount, currency, customer, reference, created_at)"
        " VALUES (:id, :amount, :currency, :customer, :reference, :created_at)",
        charge,
    )
    return charge


def list_effects(db: Database) -> list[dict[str, Any]]:
    """Every committed charge, oldest first, in the shape the harness's effects probe reads."""
    with db.reading() as conn:
        rows = conn.execute("SELECT id, reference, amount, created_at FROM charges ORDER BY seq").fetchall()
    return [dict(row) for row in rows]
