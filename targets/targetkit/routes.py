"""The POST route of a reference target, naive or keyed, registered the same way in every target.

A naive route takes the validated body; a keyed route also takes the Idempotency-Key (400 without it)
and the payload fingerprint, and renders the handler's `Outcome` (replay header, 409, 422). Handlers
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
from targets.targetkit.http_idempotency import outcome_response, parse_idempotency_key, request_fingerprint
from targets.targetkit.idempotency import Outcome
from targets.targetkit.sql import SqlStore

Body = TypeVar("Body", bound=BaseModel)


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
    def create(
        request: Any,
        payload_fingerprint: Annotated[str, Depends(request_fingerprint)],
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> Response:
        return outcome_response(handle(request, parse_idempotency_key(idempotency_key), payload_fingerprint))

    create.__annotations__["request"] = model
    app.post(path, status_code=status_code)(create)
