"""The mail worker: takes a job, sends its e-mail through SMTP, marks the job done, per variant.

The crash line `after_send_before_ack` sits right after the SMTP server accepted the message and before
anything else is recorded. A job is taken again after a crash (see `targetkit.jobqueue`), so what the
variant remembered before the crash decides whether the e-mail goes out twice:

- `naive`: send, mark done. Nothing remembered: the retaken job is sent again.
- `idempotent`: a `sent_messages` row keyed by the Message-ID is committed with status `sending` BEFORE
  the send, and checked when a job is taken: a job whose message is recorded (sending or sent) is marked
  done without sending. The price is an at-most-once window: a crash after the record and before the
  SMTP server accepted the message leaves a job that is never sent. This trades a possible duplicate for
  a possible loss; only an SMTP server that deduplicates on Message-ID could close both.
- `broken-record-after-send`: checks the same record but writes it only AFTER the send, together with
  mark-done. It looks idempotent and passes every test without crashes; a crash between the send and the
  record sends the e-mail twice. A common shape in real outboxes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from targets.targetkit import Database, Failpoints
from targets.targetkit.jobqueue import Job, JobQueue
from targets.targetkit.smtp_send import NAMESPACE_HEADER, OP_REF_HEADER, OutgoingMail

AFTER_SEND_BEFORE_ACK = "after_send_before_ack"
SENDER = "mailer@harness.invalid"
MESSAGE_ID_DOMAIN = "mailer.harness.invalid"

SENT_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent_messages (
    message_id  TEXT PRIMARY KEY,          -- the Message-ID header, derived from the job
    job_id      TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('sending', 'sent')),
    recorded_at REAL NOT NULL              -- epoch seconds
);
"""

Send = Callable[[OutgoingMail], None]


def message_id_for(job_id: str) -> str:
    """The Message-ID of a job's e-mail: the same on every attempt, so a resend is recognisable."""
    return f"<{job_id}@{MESSAGE_ID_DOMAIN}>"


@dataclass
class MailWorker:
    """The naive worker; subclasses change what is remembered around the send."""

    db: Database
    jobs: JobQueue
    send: Send
    failpoints: Failpoints
    namespace: str

    def step(self) -> bool:
        """Deliver one job if there is one; a `targetkit.worker.BackgroundWorker` step."""
        job = self.jobs.take()
        if job is None:
            return False
        try:
            self.deliver(job)
        except Exception:
            self.jobs.release(job)  # taken again at once; the worker loop pauses after a failed step
            raise
        return True

    def mail_for(self, job: Job) -> OutgoingMail:
        request = json.loads(job.payload)
        return OutgoingMail(
            message_id=message_id_for(job.item_id), sender=SENDER, to=request["to"],
            subject=request["subject"], body=f"Operation {request['reference']}.\n",
            headers={OP_REF_HEADER: request["reference"], NAMESPACE_HEADER: self.namespace},
        )

    def deliver(self, job: Job) -> None:
        self.send_mail(job)
        self.failpoints.hit(AFTER_SEND_BEFORE_ACK)
        self.jobs.complete(job)

    def send_mail(self, job: Job) -> None:
        """Send the job's e-mail; if the SMTP server refuses it, undo what was recorded before, and raise."""
        try:
            self.send(self.mail_for(job))
        except Exception:
            self.forget_attempt(job)
            raise

    def forget_attempt(self, job: Job) -> None:
        """Undo what `deliver` recorded before a send that failed cleanly (nothing, here)."""


def _recorded(conn: sqlite3.Connection, message_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM sent_messages WHERE message_id = ?", (message_id,)).fetchone()
    return row is not None


def _record(conn: sqlite3.Connection, job: Job, status: str) -> None:
    conn.execute(
        "INSERT INTO sent_messages (message_id, job_id, status, recorded_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (message_id)"
        " DO UPDATE SET status = excluded.status, recorded_at = excluded.recorded_at",
        (message_id_for(job.item_id), job.item_id, status, time.time()),
    )


class RecordBeforeSendWorker(MailWorker):
    """`idempotent`: record `sending`, send, then mark `sent` and the job done in one transaction."""

    def deliver(self, job: Job) -> None:
        with self.db.transaction() as conn:
            if _recorded(conn, message_id_for(job.item_id)):
                self.jobs.complete_in(conn, job)
                return
            _record(conn, job, "sending")
        self.send_mail(job)
        self.failpoints.hit(AFTER_SEND_BEFORE_ACK)
        with self.db.transaction() as conn:
            _record(conn, job, "sent")
            self.jobs.complete_in(conn, job)

    def forget_attempt(self, job: Job) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM sent_messages WHERE message_id = ? AND status = 'sending'",
                         (message_id_for(job.item_id),))


class RecordAfterSendWorker(MailWorker):
    """`broken-record-after-send`: checks the record first, but writes it only after the send."""

    def deliver(self, job: Job) -> None:
        with self.db.transaction() as conn:
            if _recorded(conn, message_id_for(job.item_id)):
                self.jobs.complete_in(conn, job)
                return
        self.send_mail(job)
        self.failpoints.hit(AFTER_SEND_BEFORE_ACK)
        with self.db.transaction() as conn:
            _record(conn, job, "sent")
            self.jobs.complete_in(conn, job)


WORKERS: dict[str, type[MailWorker]] = {
    "naive": MailWorker,
    "idempotent": RecordBeforeSendWorker,
    "broken-record-after-send": RecordAfterSendWorker,
}
