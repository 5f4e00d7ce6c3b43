"""The checkout orchestrator: `POST /checkouts` runs one saga over the three participants.

Answers: 201 with the saga when it is `done`; a 409 problem (`checkout-compensated`) when a step failed
and the steps before were undone; a 502 problem (`checkout-failed`) when a compensation never got
through; the saga is in the problem's `saga` member. With `keyed_checkouts` the Idempotency-Key is
required and names one saga: a repeat gets the finished saga's answer again (`Idempotent-Replayed`),
409 while it runs, 422 with another payload, and resumes it if a crash left it pending and nothing
drives it. Without, every request is a new saga.

Also `GET /sagas` (every saga: status, steps done, compensations done), `GET /sagas/{id}` and
`GET /effects` (one row per saga, `reference` the checkout's op id, for the harness's effects probe).
"""

import logging
import threading
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import FastAPI, Response

from targets.checkout.models import CheckoutRequest
from targets.checkout.saga import SagaRunner
from targets.checkout.saga_log import COMPENSATED, DONE, PENDING, SAGA_LOG_SCHEMA, Saga, SagaLog
from targets.checkout.settings import OrchestratorSettings
from targets.checkout.variants import OrchestratorBehaviour
from targets.targetkit import Outcome, TargetConfig, Verdict, new_app
from targets.targetkit.http_idempotency import (
    REPLAYED_HEADER,
    json_response,
    outcome_response,
    parse_idempotency_key,
)
from targets.targetkit.idempotency import InFlightKeys
from targets.targetkit.problems import Problem, ProblemError, problem_response, problem_type
from targets.targetkit.routes import IdempotencyKeyHeader, PayloadFingerprint
from targets.targetkit.sqlite_store import SqliteStore
from targets.targetkit.stores import open_sql_store

_log = logging.getLogger("targetkit.checkout")
SCRATCH_LOG_SUFFIX = ".scratch-sagas"


def _open_log(config: TargetConfig, environ: Mapping[str, str], behaviour: OrchestratorBehaviour) -> SagaLog:
    """The durable log in the `--db` file (or Postgres); for a non-durable one, a scratch file wiped now."""
    if behaviour.durable_log:
        return SagaLog(open_sql_store(behaviour.log_dialect, config, environ, SAGA_LOG_SCHEMA))
    scratch = config.db_path.with_name(config.db_path.name + SCRATCH_LOG_SUFFIX)
    for path in (scratch, scratch.with_name(scratch.name + "-wal"), scratch.with_name(scratch.name + "-shm")):
        path.unlink(missing_ok=True)
    return SagaLog(SqliteStore(scratch, SAGA_LOG_SCHEMA))


def saga_response(saga: Saga, replayed: bool) -> Response:
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    if saga.status == DONE:
        return outcome_response(Outcome(Verdict.REPLAYED if replayed else Verdict.FRESH,
                                        json_response(201, saga.to_json())))
    compensated = saga.status == COMPENSATED
    return problem_response(Problem(
        status=409 if compensated else 502,
        title="Checkout compensated" if compensated else "Checkout failed",
        type=problem_type("checkout-compensated" if compensated else "checkout-failed"),
        detail="A step failed; the steps before it were undone." if compensated
        else "A step failed and a compensation never got through; the saga needs attention.",
        extensions={"saga": saga.to_json()}), headers=headers)


class Orchestrator:
    """Drives sagas, never one saga from two threads at once (a retry meets it in flight: 409)."""

    def __init__(self, log: SagaLog, runner: SagaRunner) -> None:
        self.log = log
        self.runner = runner
        self.driving = InFlightKeys()

    def drive(self, saga: Saga) -> Saga | None:
        """Drive `saga` to its end; None if another thread is driving it."""
        if self.driving.claim(saga.id, "") is not None:
            return None
        try:
            return self.runner.drive(saga)
        finally:
            self.driving.release(saga.id)

    def resume_pending(self) -> None:
        """Drive every saga the log says is pending (after a crash: the ones it interrupted)."""
        for saga in self.log.all(PENDING):
            _log.info("resuming saga %s (steps done %s)", saga.id, saga.steps_done)
            self.drive(saga)

    def checkout(self, request: CheckoutRequest, key: str | None, payload_fingerprint: str) -> Response:
        saga, created = self.log.open_saga(key, payload_fingerprint, request)
        if saga.fingerprint != payload_fingerprint:
            return outcome_response(Outcome(Verdict.PAYLOAD_MISMATCH))
        if saga.status != PENDING:
            return saga_response(saga, replayed=True)
        finished = self.drive(saga)
        if finished is None:
            return outcome_response(Outcome(Verdict.IN_FLIGHT))
        return saga_response(finished, replayed=not created)


def create_orchestrator_app(config: TargetConfig, environ: Mapping[str, str],
                            behaviour: OrchestratorBehaviour, settings: OrchestratorSettings) -> FastAPI:
    log = _open_log(config, environ, behaviour)
    client = httpx.Client(timeout=settings.step_timeout_s)
    orchestrator = Orchestrator(log, SagaRunner(log, client, settings, behaviour, config.make_failpoints()))
    app = new_app("checkout", config.variant)

    def create_checkout(request: CheckoutRequest, payload_fingerprint: PayloadFingerprint,
                        idempotency_key: IdempotencyKeyHeader = None) -> Response:
        key = parse_idempotency_key(idempotency_key) if behaviour.keyed_checkouts else None
        return orchestrator.checkout(request, key, payload_fingerprint)

    app.post("/checkouts", status_code=201)(create_checkout)

    @app.get("/sagas")
    def sagas() -> list[dict[str, Any]]:
        return [saga.to_json() for saga in log.all()]

    @app.get("/sagas/{saga_id}")
    def saga(saga_id: str) -> dict[str, Any]:
        found = log.find(saga_id)
        if found is None:
            raise ProblemError(Problem(status=404, title="No such saga", detail=f"No saga {saga_id!r}."))
        return found.to_json()

    @app.get("/effects")
    def effects() -> list[dict[str, Any]]:
        return [{"id": s.id, "reference": s.request.reference, "status": s.status, "created_at": s.created_at}
                for s in log.all()]

    if behaviour.resume_on_start:
        threading.Thread(target=orchestrator.resume_pending, name="resume-sagas", daemon=True).start()
    return app
