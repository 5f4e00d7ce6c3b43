"""Reference target `consumer`: `POST /messages` publishes, a consumer applies and then acknowledges.

    python -m targets.consumer.app --host 127.0.0.1 --port PORT --db PATH \
        --variant naive|idempotent|broken-inbox-after-effect

`POST /messages {"reference", "amount"}` publishes one message and answers `202 {"id": message id}`
once the message is durably queued. The message id is the Idempotency-Key header if one is sent, else a
new UUID: a producer retry of one operation publishes a second copy with the SAME message id, which is
exactly what an inbox must absorb (and what the naive consumer applies twice). The header is accepted by
every variant, since the variants differ in the consumer only.

Transport: RabbitMQ if HARNESS_AMQP_URL is set (durable queue `<HARNESS_NAMESPACE>.messages`, persistent
messages, publisher confirms, manual ack, small prefetch), else an embedded durable queue in --db whose
unacknowledged messages are delivered again after a crash. A consumer thread inserts one ledger row per
applied message (in --db) and then acks; see handlers.py for the variants.

Also `GET /effects` (every ledger row: id, reference, message_id, amount, created_at) and `GET /stats`
(`{"pending": n}`: queued plus delivered-but-unacknowledged, for the harness's drain).
Faults: HARNESS_FAILPOINTS may name `before_commit` (before the publish), `after_commit_before_response`
(after the broker confirmed, before the answer) and `after_effect_before_ack`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import FastAPI, Header
from fastapi.responses import JSONResponse

from targets.consumer.handlers import AFTER_EFFECT_BEFORE_ACK, CONSUMERS
from targets.consumer.ledger import INBOX_SCHEMA, LEDGER_SCHEMA, list_effects
from targets.consumer.models import MessageRequest
from targets.targetkit import (
    AFTER_COMMIT_BEFORE_RESPONSE,
    BEFORE_COMMIT,
    Database,
    Failpoints,
    Problem,
    ProblemError,
    TargetConfig,
    new_app,
    parse_idempotency_key,
    simulated_work,
)
from targets.targetkit.environment import DEFAULT_NAMESPACE, amqp_url, namespace
from targets.targetkit.failpoints import STANDARD_FAILPOINTS
from targets.targetkit.jobqueue import JOBQUEUE_SCHEMA
from targets.targetkit.launch import launch
from targets.targetkit.messaging import MessageQueue, PublishError, open_queue
from targets.targetkit.problems import problem_type
from targets.targetkit.worker import BackgroundWorker, attach_workers

VARIANTS = tuple(CONSUMERS)
FAILPOINTS = STANDARD_FAILPOINTS | {AFTER_EFFECT_BEFORE_ACK}

Work = Callable[[], None]


def queue_name(namespace: str) -> str:
    return f"{namespace}.messages"


def message_id_for(idempotency_key: str | None) -> str:
    """The key itself, so every retry of one operation publishes the same message id; else a new one."""
    return parse_idempotency_key(idempotency_key) if idempotency_key is not None else str(uuid.uuid4())


def _publish(queue: MessageQueue, failpoints: Failpoints, message_id: str, message: MessageRequest) -> None:
    failpoints.hit(BEFORE_COMMIT)
    try:
        queue.publish(message_id, message.model_dump_json().encode())
    except PublishError as error:
        raise ProblemError(Problem(status=503, title="Message not queued", detail=str(error),
                                   type=problem_type("publish-failed"))) from error
    failpoints.hit(AFTER_COMMIT_BEFORE_RESPONSE)


def create_app(config: TargetConfig, *, namespace: str = DEFAULT_NAMESPACE, amqp_url: str | None = None,
               failpoints: Failpoints | None = None, work: Work | None = None) -> FastAPI:
    """Build the app; RabbitMQ if `amqp_url`, else the embedded queue in the --db file.

    The consumer starts with the server (lifespan); `app.state.consumer.step()` drives it by hand after
    `app.state.consumer.queue.prepare()`.
    """
    db = Database(config.db_path, JOBQUEUE_SCHEMA + LEDGER_SCHEMA + INBOX_SCHEMA)
    queue = open_queue(db, queue_name(namespace), amqp_url)
    failpoints = failpoints or config.make_failpoints()
    work = work or simulated_work(config.work_ms)
    app = new_app("consumer", config.variant)
    consumer = CONSUMERS[config.variant](db, queue, failpoints)
    app.state.consumer = consumer
    attach_workers(app, [BackgroundWorker("consumer", consumer.step)], prepare=queue.prepare)

    @app.post("/messages", status_code=202)
    def publish_message(
        message: MessageRequest,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        message_id = message_id_for(idempotency_key)
        work()
        _publish(queue, failpoints, message_id, message)
        return JSONResponse({"id": message_id}, status_code=202)

    @app.get("/effects")
    def effects() -> list[dict[str, Any]]:
        return list_effects(db)

    @app.get("/stats")
    def stats() -> dict[str, int]:
        return {"pending": queue.pending()}

    return app


def create_app_from_env(config: TargetConfig, environ: Mapping[str, str]) -> FastAPI:
    """The app as the harness runs it: namespace and broker from HARNESS_* variables."""
    return create_app(config, namespace=namespace(environ), amqp_url=amqp_url(environ))


def main() -> None:
    launch(create_app_from_env, description="Reference consumer target for the idempotency harness.",
           variants=VARIANTS, known_failpoints=FAILPOINTS)


if __name__ == "__main__":
    main()
