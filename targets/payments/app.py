"""Reference target `payments`: `POST /charges` in a naive and an idempotent variant.

    python targets/payments/app.py --host 127.0.0.1 --port PORT --variant naive|idempotent --db PATH

- naive: every request creates a charge; the Idempotency-Key header and `reference` are ignored, so a
  retry after a lost response charges twice. That is the bug the harness measures.
- idempotent: the Idempotency-Key header is required (400 without it); the first completed response is
  stored with the charge in one transaction and replayed for the same key (`Idempotent-Replayed: true`);
  409 while the first request with the key runs, 422 if the key comes back with a different payload.

Also `GET /health` and `GET /effects` (every charge, read by the harness's effects probe). Faults come
from HARNESS_FAILPOINTS, HARNESS_SEED, HARNESS_INCARNATION and HARNESS_WORK_MS (see targetkit.config).
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

# Run by path from any cwd: make `targetkit` and `payments` importable. Appended, not prepended, so a
# target folder can never shadow a standard-library module of the same name.
_TARGETS_DIR = str(Path(__file__).resolve().parent.parent)
if _TARGETS_DIR not in sys.path:
    sys.path.append(_TARGETS_DIR)

from fastapi import Depends, FastAPI, Header, Response  # noqa: E402
from targetkit import (  # noqa: E402
    KEYSTORE_SCHEMA,
    Database,
    Failpoints,
    IdempotentExecutor,
    StoredResponse,
    TargetConfig,
    commit_effect,
    json_response,
    new_app,
    outcome_response,
    parse_idempotency_key,
    request_fingerprint,
    simulated_work,
)
from targetkit.serving import run_target  # noqa: E402

from payments.ledger import CHARGES_SCHEMA, insert_charge, list_effects  # noqa: E402
from payments.models import ChargeRequest  # noqa: E402

CHARGES_SCOPE = "POST /charges"

Work = Callable[[], None]


def _charge_writer(request: ChargeRequest) -> Callable[[sqlite3.Connection], StoredResponse]:
    def write(conn: sqlite3.Connection) -> StoredResponse:
        return json_response(201, insert_charge(conn, request))

    return write


def _add_naive_charges(app: FastAPI, db: Database, failpoints: Failpoints, work: Work) -> None:
    @app.post("/charges", status_code=201)
    def create_charge(request: ChargeRequest) -> Response:
        work()
        stored = commit_effect(db, failpoints, _charge_writer(request))
        return Response(stored.body, status_code=stored.status, media_type="application/json")


def _add_idempotent_charges(app: FastAPI, db: Database, failpoints: Failpoints, work: Work) -> None:
    executor = IdempotentExecutor(db, failpoints, scope=CHARGES_SCOPE)
    app.state.idempotency = executor

    # A sync handler runs in the thread pool: a slow first request blocks only its own thread, so a
    # concurrent retry with the same key is served and finds the key in flight (409).
    @app.post("/charges", status_code=201)
    def create_charge(
        request: ChargeRequest,
        payload_fingerprint: Annotated[str, Depends(request_fingerprint)],
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> Response:
        key = parse_idempotency_key(idempotency_key)
        return outcome_response(executor.execute(key, payload_fingerprint, work, _charge_writer(request)))


_CHARGE_ROUTES: dict[str, Callable[[FastAPI, Database, Failpoints, Work], None]] = {
    "naive": _add_naive_charges,
    "idempotent": _add_idempotent_charges,
}


def create_app(config: TargetConfig, *, work: Work | None = None) -> FastAPI:
    """Build the app for `config`; `work` replaces the HARNESS_WORK_MS pause (a hook for tests)."""
    db = Database(config.db_path, KEYSTORE_SCHEMA + CHARGES_SCHEMA)
    app = new_app("payments", config.variant)
    _CHARGE_ROUTES[config.variant](app, db, config.make_failpoints(), work or simulated_work(config.work_ms))

    @app.get("/effects")
    def effects() -> list[dict[str, Any]]:
        return list_effects(db)

    return app


def main() -> None:
    run_target(create_app, description="Reference payments target for the idempotency harness.")


if __name__ == "__main__":
    main()
