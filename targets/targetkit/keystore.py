"""The durable half of Idempotency-Key handling: one row per key with the first completed response.

A row is written in the same transaction as the effect it describes (see `idempotency.py`), so after any
crash either both exist or neither does. Rows expire (24 hours by default, like Stripe's keys) and are
purged lazily, on the next keyed request, so no background task is needed and a stopped target keeps its
keys until it serves again. The SQL is the kit's one surface (`targetkit.sql`), so the same table serves
on SQLite and on Postgres.
"""

from __future__ import annotations

from dataclasses import dataclass

from targets.targetkit.sql import Sql

DEFAULT_TTL_S = 24 * 60 * 60

KEYSTORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope       TEXT    NOT NULL,  -- which operation the key belongs to, e.g. 'POST /charges'
    key         TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,  -- hash of the canonical request payload
    status      INTEGER NOT NULL,  -- status code of the first completed response
    body        TEXT    NOT NULL,  -- its body, byte for byte, so a replay is identical
    created_at  DOUBLE PRECISION NOT NULL,  -- epoch seconds
    expires_at  DOUBLE PRECISION NOT NULL,  -- epoch seconds; the row is purged at or after this time
    PRIMARY KEY (scope, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at ON idempotency_keys (expires_at);
"""


@dataclass(frozen=True)
class StoredResponse:
    """A completed response as it is replayed: status code and the exact JSON body text."""

    status: int
    body: str


@dataclass(frozen=True)
class KeyRecord:
    """A stored key: the payload fingerprint it was first used with, and the response it produced."""

    fingerprint: str
    response: StoredResponse
    expires_at: float


class KeyStore:
    """SQL for the `idempotency_keys` table; every method runs inside the caller's transaction."""

    def __init__(self, scope: str, ttl_s: float = DEFAULT_TTL_S) -> None:
        self.scope = scope
        self.ttl_s = ttl_s

    def purge_expired(self, sql: Sql, now: float) -> int:
        """Delete every expired key of any scope; returns how many went."""
        return sql.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?", (now,))

    def find(self, sql: Sql, key: str, now: float) -> KeyRecord | None:
        """The live record for `key`, or None if it was never stored or has expired."""
        row = sql.one(
            "SELECT fingerprint, status, body, expires_at FROM idempotency_keys"
            " WHERE scope = ? AND key = ? AND expires_at > ?",
            (self.scope, key, now),
        )
        if row is None:
            return None
        return KeyRecord(row["fingerprint"], StoredResponse(row["status"], row["body"]), row["expires_at"])

    def save(self, sql: Sql, key: str, fingerprint: str, response: StoredResponse, now: float) -> None:
        """Record the first completed response; a second save of a live key violates the primary key."""
        sql.execute(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, status, body, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.scope, key, fingerprint, response.status, response.body, now, now + self.ttl_s),
        )
