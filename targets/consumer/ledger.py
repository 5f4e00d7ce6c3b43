"""The effect the harness counts (one ledger row per applied message) and the inbox that dedups them."""

from __future__ import annotations

import sqlite3
import time
import uuid
from typing import Any

from targets.consumer.models import MessageRequest
from targets.targetkit import Database

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    seq        INTEGER PRIMARY KEY,   -- insertion order, for a stable /effects listing
    id         TEXT    NOT NULL UNIQUE,
    message_id TEXT    NOT NULL,      -- deliberately NOT unique: the naive consumer applies copies
    reference  TEXT    NOT NULL,      -- the harness's op id
    amount     INTEGER NOT NULL,
    created_at REAL    NOT NULL       -- epoch seconds
);
CREATE INDEX IF NOT EXISTS ledger_reference ON ledger (reference);
"""

INBOX_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    message_id   TEXT PRIMARY KEY,    -- one row per message ever applied
    processed_at REAL NOT NULL        -- epoch seconds
);
"""


def apply_entry(conn: sqlite3.Connection, message_id: str, message: MessageRequest) -> None:
    """Insert one ledger row inside the caller's transaction."""
    conn.execute(
        "INSERT INTO ledger (id, message_id, reference, amount, created_at) VALUES (?, ?, ?, ?, ?)",
        (f"le_{uuid.uuid4().hex[:24]}", message_id, message.reference, message.amount, time.time()),
    )


def in_inbox(conn: sqlite3.Connection, message_id: str) -> bool:
    return conn.execute("SELECT 1 FROM inbox WHERE message_id = ?", (message_id,)).fetchone() is not None


def add_to_inbox(conn: sqlite3.Connection, message_id: str) -> None:
    conn.execute("INSERT OR IGNORE INTO inbox (message_id, processed_at) VALUES (?, ?)",
                 (message_id, time.time()))


def list_effects(db: Database) -> list[dict[str, Any]]:
    """Every ledger row, oldest first, in the shape the harness's effects probe reads."""
    with db.reading() as conn:
        rows = conn.execute(
            "SELECT id, reference, message_id, amount, created_at FROM ledger ORDER BY seq").fetchall()
    return [dict(row) for row in rows]
