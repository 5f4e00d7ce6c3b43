"""The POST and PATCH routes of a reference target, naive or keyed, registered the same way everywhere.

A naive route takes the validated body; a keyed route also takes the Idempotency-Key (400 without it)
and the payload fingerprint, and renders the handler's `Outcome` (replay header, 409, 422). A PATCH
route changes one item, named `{item_id}` in its path, and its handler gets that id first. Handlers
are sync on purpose: FastAPI runs them in its thread pool, so a slow request blocks only its own thread
and a concurrent retry of the same operation really overlaps with it.

No `from __future__ import annotations` here: FastAPI reads the handlers' annotations as objects, and
the body model is only known when a target registers its route.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Response
from pydantic import BaseModel

from targets.targetkit.failpoints import Failpoints
from targets.targetkit.http_idempotency import (
    IDEMPOTENCY_KEY_HEADER,
    outcome_response,
    parse_idempotency_key,
    request_fingerprint,
)
from targets.targetkit.idempotency import Outcome, fingerprint
from targets.targetkit.sql import SqlStore

Body = TypeVar("Body", bound=BaseModel)
PayloadFingerprint = Annotated[str, Depends(request_fingerprint)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias=IDEMPOTENCY_KEY_HEADER)]


@dataclass(frozen=True)
class Wiring:
    """What a SQL-backed handler works with: its store, its failpoints and the HARNESS_WORK_MS pause."""

    store: SqlStore
    failpoints: Failpoints
    work: Callable[[], None]


def add_naive_post(app: FastAPI, path: str, model: type[Body], handle: Callable[[Body], Outcome],
                   status_code: int = 201) -> None:
    """`handle(body)` runs for every request (`status_code` is what the API docs show)."""
    def create(request: Any) -> Response:
        return outcome_response(handle(request))

    create.__annotations__["request"] = model
    app.post(path, status_code=status_code)(create)


def add_keyed_post(app: FastAPI, path: str, model: type[Body],
                   handle: Callable[[Body, str, str], Outcome], status_code: int = 201) -> None:
    """`handle(body, key, payload_fingerprint)` runs once the key is read and valid."""
    def create(request: Any, payload_fingerprint: PayloadFingerprint,
               idempotency_key: IdempotencyKeyHeader = None) -> Response:
        return outcome_response(handle(request, parse_idempotency_key(idempotency_key), payload_fingerprint))

    create.__annotations__["request"] = model
    app.post(path, status_code=status_code)(create)


def add_naive_patch(app: FastAPI, path: str, model: type[Body],
                    handle: Callable[[str, Body], Outcome]) -> None:
    """`handle(item_id, body)` runs for every request, an Idempotency-Key or not."""
    def change(item_id: str, request: Any) -> Response:
        return outcome_response(handle(item_id, request))

    change.__annotations__["request"] = model
    app.patch(path)(change)


def add_keyed_patch(app: FastAPI, path: str, model: type[Body],
                    handle: Callable[[str, Body, str, str], Outcome]) -> None:
    """`handle(item_id, body, key, payload_fingerprint)` runs once the key is read and valid.

    The fingerprint covers the item id with the body, so a key reused on another item with the same
    body is a changed payload (422), not a replay of the other item's answer.
    """
    def change(item_id: str, request: Any, payload_fingerprint: PayloadFingerprint,
               idempotency_key: IdempotencyKeyHeader = None) -> Response:
        key = parse_idempotency_key(idempotency_key)
        return outcome_response(handle(item_id, request, key, fingerprint([item_id, payload_fingerprint])))

    change.__annotations__["request"] = model
    app.patch(path)(change)
