"""The orchestrator's saga log: each saga, its request, and every step and compensation it finished.

Each entry is committed before the orchestrator moves on, so after a crash the log says exactly which
steps are known done and which compensations remain; recovery needs nothing else. A saga is `pending`
while it runs (forward, or compensating once `compensate_through` is set: the highest step to undo),
then `done`, `compensated` (every touched step undone) or `failed` (a compensation never got through).
The log is a `SqlStore`: SQLite by default, Postgres for the `idempotent-postgres` variant.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from targets.checkout.models import CheckoutRequest
from targets.targetkit.sql import Row, Sql, SqlStore

PENDING, DONE, COMPENSATED, FAILED = "pending", "done", "compensated", "failed"
FORWARD, COMPENSATION = "forward", "compensation"

SAGA_LOG_SCHEMA = """
CREATE TABLE IF NOT EXISTS sagas (
    seq                {serial},
    id                 TEXT NOT NULL UNIQUE,
    idempotency_key    TEXT UNIQUE,       -- the checkout's key; NULL when the variant ignores it
    fingerprint        TEXT NOT NULL,     -- of the checkout's payload, to refuse a reused key
    reference          TEXT NOT NULL,     -- the checkout's op id
    request            TEXT NOT NULL,     -- the checkout as JSON, to resume it
    status             TEXT NOT NULL,
    compensate_through INTEGER,           -- set when compensation starts: undo steps 1..this
    created_at         DOUBLE PRECISION NOT NULL,
    updated_at         DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS saga_steps (
    seq        {serial},
    saga_id    TEXT    NOT NULL,
    step       INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    phase      TEXT    NOT NULL,          -- forward or compensation
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (saga_id, step, phase)
);
"""


@dataclass(frozen=True)
class Saga:
    id: str
    idempotency_key: str | None
    fingerprint: str
    request: CheckoutRequest
    status: str
    compensate_through: int | None
    steps_done: tuple[int, ...]
    compensations_done: tuple[int, ...]
    created_at: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reference": self.request.reference, "status": self.status,
                "steps_done": list(self.steps_done), "compensations_done": list(self.compensations_done),
                "compensating": self.compensate_through is not None, "request": self.request.model_dump(),
                "created_at": self.created_at}


class SagaLog:
    """Reads and writes of the saga log; every write is its own committed transaction."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def open_saga(self, key: str | None, fingerprint: str, request: CheckoutRequest) -> tuple[Saga, bool]:
        """The saga of `key`, created if new; and whether it was created now. A None key always creates."""
        now = time.time()
        with self.store.transaction() as sql:
            created = sql.one(
                "INSERT INTO sagas (id, idempotency_key, fingerprint, reference, request, status,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
                (f"saga_{uuid.uuid4().hex[:20]}", key, fingerprint, request.reference,
                 request.model_dump_json(), PENDING, now, now))
            row = sql.one("SELECT * FROM sagas WHERE " + ("id = ?" if created else "idempotency_key = ?"),
                          (created["id"] if created else key,))
            assert row is not None, "the insert either made the row or met the key's row"
            return _load(sql, [row])[0], created is not None

    def find(self, saga_id: str) -> Saga | None:
        with self.store.reading() as sql:
            row = sql.one("SELECT * FROM sagas WHERE id = ?", (saga_id,))
            return None if row is None else _load(sql, [row])[0]

    def get(self, saga_id: str) -> Saga:
        saga = self.find(saga_id)
        assert saga is not None, f"saga {saga_id} is in the log"
        return saga

    def all(self, status: str | None = None) -> list[Saga]:
        with self.store.reading() as sql:
            if status is None:
                return _load(sql, sql.all("SELECT * FROM sagas ORDER BY seq"))
            return _load(sql, sql.all("SELECT * FROM sagas WHERE status = ? ORDER BY seq", (status,)))

    def record(self, saga_id: str, step: int, kind: str, phase: str) -> None:
        """Step `step` finished in `phase`; recording it twice (a resumed saga's replay) changes nothing."""
        with self.store.transaction() as sql:
            sql.execute("INSERT INTO saga_steps (saga_id, step, kind, phase, created_at)"
                        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (saga_id, step, phase) DO NOTHING",
                        (saga_id, step, kind, phase, time.time()))

    def start_compensation(self, saga_id: str, through: int) -> None:
        self._update(saga_id, "compensate_through = ?", (through,))

    def finish(self, saga_id: str, status: str) -> None:
        self._update(saga_id, "status = ?", (status,))

    def _update(self, saga_id: str, assignment: str, params: tuple[Any, ...]) -> None:
        with self.store.transaction() as sql:
            sql.execute(f"UPDATE sagas SET {assignment}, updated_at = ? WHERE id = ?",
                        (*params, time.time(), saga_id))


def _load(sql: Sql, rows: list[Row]) -> list[Saga]:
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    marks = ", ".join("?" for _ in ids)
    done: dict[tuple[str, str], list[int]] = {}
    for event in sql.all(f"SELECT saga_id, step, phase FROM saga_steps WHERE saga_id IN ({marks})"
                         " ORDER BY seq", ids):
        done.setdefault((event["saga_id"], event["phase"]), []).append(int(event["step"]))
    return [Saga(
        id=row["id"], idempotency_key=row["idempotency_key"], fingerprint=row["fingerprint"],
        request=CheckoutRequest.model_validate(json.loads(row["request"])), status=row["status"],
        compensate_through=row["compensate_through"], steps_done=tuple(done.get((row["id"], FORWARD), ())),
        compensations_done=tuple(done.get((row["id"], COMPENSATION), ())), created_at=row["created_at"],
    ) for row in rows]
