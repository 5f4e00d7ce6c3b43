"""Accepting an e-mail: one job row committed to the durable queue before `202 Accepted` is answered."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable

from targets.mailer.models import EmailRequest
from targets.targetkit import StoredResponse, json_response
from targets.targetkit.jobqueue import JobQueue

MAIL_QUEUE = "emails"


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex[:24]}"


def job_writer(jobs: JobQueue, request: EmailRequest) -> Callable[[sqlite3.Connection], StoredResponse]:
    """A `commit_effect` write that enqueues the e-mail; the job is the effect the POST commits."""
    def write(conn: sqlite3.Connection) -> StoredResponse:
        job_id = new_job_id()
        jobs.put(conn, job_id, request.model_dump_json())
        return json_response(202, {"id": job_id})

    return write
