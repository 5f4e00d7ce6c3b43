"""A participant's store: its ledger of effects and the level of each item, moved in one transaction.

- `ledger`: one row per effect, forward (charge, reserve, book) or compensation (refund, release,
  cancel), with its saga id, step, Idempotency-Key (when one was sent), item, amount and the checkout's
  reference. A compensation undoes the FIRST forward row of its saga step, for that row's amount; when
  there is none yet it undoes nothing and records amount 0, which also fences a late forward step out
  (for the variants that look). Probes read these rows to check conservation.
- `levels`: the current level of each item (a customer's balance, a sku's stock, an address's free
  slots), seeded on first use; a forward step that would take it below the participant's floor is refused.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from targets.checkout.models import Participant, StepRequest
from targets.targetkit.http_idempotency import json_response
from targets.targetkit.keystore import StoredResponse
from targets.targetkit.problems import Problem, ProblemError, problem_type
from targets.targetkit.sql import Row, Sql, SqlStore

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS levels (
    item  TEXT   PRIMARY KEY,
    level BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger (
    seq             {serial},          -- insertion order, for a stable listing
    id              TEXT    NOT NULL UNIQUE,
    saga_id         TEXT    NOT NULL,
    step            INTEGER NOT NULL,
    kind            TEXT    NOT NULL,  -- charge/refund, reserve/release, book/cancel
    idempotency_key TEXT,              -- as sent; deliberately NOT unique, duplicates are evidence
    item            TEXT    NOT NULL,
    amount          BIGINT  NOT NULL,
    reference       TEXT    NOT NULL,  -- the checkout's op id
    created_at      DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_saga_step ON ledger (saga_id, step);
"""

_COLUMNS = "id, saga_id, step, kind, idempotency_key, item, amount, reference, created_at"


def _refuse(slug: str, title: str, detail: str) -> ProblemError:
    return ProblemError(Problem(status=409, title=title, type=problem_type(slug), detail=detail))


def _move_level(sql: Sql, item: str, initial: int, delta: int, floor: int | None) -> int | None:
    """Add `delta` to the item's level unless that crosses `floor`; the new level, or None if refused."""
    sql.execute("INSERT INTO levels (item, level) VALUES (?, ?) ON CONFLICT (item) DO NOTHING",
                (item, initial))
    if floor is None:
        row = sql.one("UPDATE levels SET level = level + ? WHERE item = ? RETURNING level", (delta, item))
    else:
        row = sql.one("UPDATE levels SET level = level + ? WHERE item = ? AND level + ? >= ?"
                      " RETURNING level", (delta, item, delta, floor))
    return None if row is None else int(row["level"])


def _record(sql: Sql, kind: str, request: StepRequest, key: str | None, amount: int,
            level_after: int | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"{kind}_{uuid.uuid4().hex[:20]}", "saga_id": request.saga_id, "step": request.step,
        "kind": kind, "idempotency_key": key, "item": request.item, "amount": amount,
        "reference": request.reference, "created_at": time.time(),
    }
    sql.execute(f"INSERT INTO ledger ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(row[column] for column in _COLUMNS.split(", ")))
    return {**row, "level_after": level_after}


def _first_row(sql: Sql, request: StepRequest, kind: str) -> Row | None:
    return sql.one("SELECT amount FROM ledger WHERE saga_id = ? AND step = ? AND kind = ?"
                   " ORDER BY seq LIMIT 1", (request.saga_id, request.step, kind))


def apply_forward(sql: Sql, participant: Participant, initial: int, request: StepRequest, key: str | None,
                  *, fence: bool) -> StoredResponse:
    """Charge / reserve / book, in the caller's transaction; raises a 409 problem when refused."""
    if fence and _first_row(sql, request, participant.compensation) is not None:
        raise _refuse("step-compensated", "Step already compensated",
                      f"Saga {request.saga_id} step {request.step} was compensated before it ran.")
    level = _move_level(sql, request.item, initial, participant.forward_sign * request.amount,
                        participant.floor)
    if level is None:
        raise _refuse("insufficient-level", f"Cannot {participant.forward}",
                      f"{request.item!r} has less than {request.amount} left.")
    return json_response(201, _record(sql, participant.forward, request, key, request.amount, level))


def apply_compensation(sql: Sql, participant: Participant, initial: int, request: StepRequest,
                       key: str | None) -> StoredResponse:
    """Refund / release / cancel the step's first forward effect; amount 0 when there is none (yet)."""
    forward = _first_row(sql, request, participant.forward)
    if forward is None:
        return json_response(200, _record(sql, participant.compensation, request, key, 0, None))
    amount = int(forward["amount"])
    level = _move_level(sql, request.item, initial, -participant.forward_sign * amount, None)
    return json_response(201, _record(sql, participant.compensation, request, key, amount, level))


def ledger_rows(store: SqlStore, kinds: tuple[str, ...]) -> list[Row]:
    """Every effect of the given kinds, oldest first."""
    marks = ", ".join("?" for _ in kinds)
    with store.reading() as sql:
        return sql.all(f"SELECT {_COLUMNS} FROM ledger WHERE kind IN ({marks}) ORDER BY seq", kinds)


def levels(store: SqlStore) -> dict[str, int]:
    with store.reading() as sql:
        rows = sql.all("SELECT item, level FROM levels ORDER BY item")
    return {row["item"]: int(row["level"]) for row in rows}
