"""Reference target `mailer`: `POST /emails` queues an e-mail, a worker sends it through real SMTP.

    python -m targets.mailer.app --host 127.0.0.1 --port PORT --db PATH \
        --variant naive|idempotent|broken-record-after-send

`POST /emails {"to", "subject", "reference"}` commits a job to a durable queue (a table in --db) and
answers `202 {"id": job id}`; the job survives SIGKILL from then on. A worker thread in the same process
sends each job's e-mail to HARNESS_SMTP_HOST:HARNESS_SMTP_PORT with the headers `X-Op-Ref: <reference>`,
`X-Harness-Namespace: <HARNESS_NAMESPACE>` and a `Message-ID` derived from the job, then marks it done.
The harness reads the effects (the e-mails) from its SMTP sink, after `GET /stats` shows
`{"pending": 0, ...}`.

Variants (what the worker remembers around the send is described in delivery.py):
- naive: the Idempotency-Key header is ignored; every POST queues a job; a crash at the failpoint
  `after_send_before_ack` (after the send, before mark-done) sends the e-mail again after the restart.
- idempotent: the Idempotency-Key header is required and a retried POST replays the first answer (as in
  `payments`); the worker records the Message-ID before sending and skips recorded jobs.
- broken-record-after-send: as idempotent, but the worker records the Message-ID after the send.

Faults: HARNESS_FAILPOINTS may name `before_commit` and `after_commit_before_response` (around the job's
commit) and `after_send_before_ack`; HARNESS_SEED, HARNESS_INCARNATION, HARNESS_WORK_MS as everywhere.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from fastapi import FastAPI

from targets.mailer.delivery import AFTER_SEND_BEFORE_ACK, SENT_SCHEMA, WORKERS, Send
from targets.mailer.models import EmailRequest
from targets.mailer.outbox import MAIL_QUEUE, job_writer
from targets.targetkit import (
    KEYSTORE_SCHEMA,
    Database,
    Failpoints,
    IdempotentExecutor,
    Outcome,
    TargetConfig,
    Verdict,
    commit_effect,
    new_app,
    simulated_work,
)
from targets.targetkit.environment import DEFAULT_NAMESPACE, namespace, smtp_settings
from targets.targetkit.failpoints import STANDARD_FAILPOINTS
from targets.targetkit.jobqueue import JOBQUEUE_SCHEMA, JobQueue
from targets.targetkit.launch import launch
from targets.targetkit.routes import add_keyed_post, add_naive_post
from targets.targetkit.smtp_send import send_mail
from targets.targetkit.worker import BackgroundWorker, attach_workers

VARIANTS = tuple(WORKERS)
FAILPOINTS = STANDARD_FAILPOINTS | {AFTER_SEND_BEFORE_ACK}
EMAILS_SCOPE = "POST /emails"

Work = Callable[[], None]


def _add_naive_emails(app: FastAPI, db: Database, jobs: JobQueue, failpoints: Failpoints, work: Work) -> None:
    def queue_email(request: EmailRequest) -> Outcome:
        work()
        return Outcome(Verdict.FRESH, commit_effect(db, failpoints, job_writer(jobs, request)))

    add_naive_post(app, "/emails", EmailRequest, queue_email, status_code=202)


def _add_keyed_emails(app: FastAPI, db: Database, jobs: JobQueue, failpoints: Failpoints, work: Work) -> None:
    executor = IdempotentExecutor(db, failpoints, scope=EMAILS_SCOPE)

    def queue_email(request: EmailRequest, key: str, payload_fingerprint: str) -> Outcome:
        return executor.execute(key, payload_fingerprint, work, job_writer(jobs, request))

    add_keyed_post(app, "/emails", EmailRequest, queue_email, status_code=202)


def create_app(config: TargetConfig, *, send: Send, namespace: str = DEFAULT_NAMESPACE,
               failpoints: Failpoints | None = None, work: Work | None = None) -> FastAPI:
    """Build the app; `send` delivers one e-mail (SMTP in production, a list in unit tests).

    The worker starts with the server (lifespan); `app.state.mail_worker.step()` drives it by hand.
    """
    db = Database(config.db_path, KEYSTORE_SCHEMA + JOBQUEUE_SCHEMA + SENT_SCHEMA)
    jobs = JobQueue(db, MAIL_QUEUE)
    failpoints = failpoints or config.make_failpoints()
    app = new_app("mailer", config.variant)
    add_routes = _add_naive_emails if config.variant == "naive" else _add_keyed_emails
    add_routes(app, db, jobs, failpoints, work or simulated_work(config.work_ms))

    mail_worker = WORKERS[config.variant](db, jobs, send, failpoints, namespace)
    app.state.mail_worker = mail_worker
    attach_workers(app, [BackgroundWorker("mailer-worker", mail_worker.step)], prepare=jobs.recover)

    @app.get("/stats")
    def stats() -> dict[str, int]:
        counts = jobs.counts()
        return {"pending": counts.pending, "done": counts.done}

    return app


def create_app_from_env(config: TargetConfig, environ: Mapping[str, str]) -> FastAPI:
    """The app as the harness runs it: SMTP server and namespace from HARNESS_* variables."""
    send = functools.partial(send_mail, smtp_settings(environ))
    return create_app(config, send=send, namespace=namespace(environ))


def main() -> None:
    launch(create_app_from_env, description="Reference mailer target for the idempotency harness.",
           variants=VARIANTS, known_failpoints=FAILPOINTS)


if __name__ == "__main__":
    main()
