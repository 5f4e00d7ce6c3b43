"""A message queue with manual acknowledgement, over RabbitMQ or embedded in the target's SQLite file.

Both transports give the same guarantee, at-least-once delivery: a message is removed only by `ack`, and
a message delivered to a consumer that died before acking it is delivered again. A consumer that applies
an effect and then acks can therefore apply it twice; that is the window the consumer target measures.

`open_queue` picks RabbitMQ when a URL is given (see `targetkit.amqp`), else `EmbeddedQueue`, which keeps
messages in a table with a lease (`targetkit.jobqueue`). The embedded queue lives in the same file as the
effects, yet its ack is deliberately a transaction of its own, as it is with a real broker; folding the
ack into the effect's transaction would hide the very window under test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from targets.targetkit.jobqueue import Job, JobQueue
from targets.targetkit.sqlite import Database


class PublishError(Exception):
    """A message could not be stored durably (broker unreachable, not confirmed); the client may retry."""


@dataclass(frozen=True)
class Delivery:
    """One delivered copy of a message; `handle` identifies it to `ack` (a delivery tag or a row)."""

    message_id: str
    body: bytes
    redelivered: bool
    handle: int


class MessageQueue(Protocol):
    """Publish, receive one, acknowledge, count what is not yet acknowledged."""

    def prepare(self) -> None:
        """Connect and declare what is needed; called once at start-up, so a bad broker fails it."""

    def publish(self, message_id: str, body: bytes) -> None:
        """Return only once the message is durably stored (committed, or confirmed by the broker).

        Raises `PublishError` otherwise; the message may or may not have been stored, as with any broker.
        """

    def receive(self) -> Delivery | None:
        """The next delivery, or None if none arrived within a short wait (consumer thread only)."""

    def ack(self, delivery: Delivery) -> None:
        """Remove the delivered message for good (consumer thread only)."""

    def pending(self) -> int:
        """Messages published and not yet acknowledged: waiting, buffered or being handled."""

    def close(self) -> None: ...


class EmbeddedQueue:
    """`MessageQueue` on a `JobQueue` table: publish commits a row, ack marks it done."""

    def __init__(self, db: Database, name: str) -> None:
        self._db = db
        self._jobs = JobQueue(db, name)
        self._leased: dict[int, Job] = {}

    def prepare(self) -> None:
        # Leases held at start-up belong to a dead incarnation: deliver those messages again now.
        self._jobs.recover()

    def publish(self, message_id: str, body: bytes) -> None:
        with self._db.transaction() as conn:
            self._jobs.put(conn, message_id, body.decode())

    def receive(self) -> Delivery | None:
        job = self._jobs.take()
        if job is None:
            return None
        self._leased[job.seq] = job
        return Delivery(job.item_id, job.payload.encode(), job.redelivered, job.seq)

    def ack(self, delivery: Delivery) -> None:
        self._jobs.complete(self._leased.pop(delivery.handle))

    def pending(self) -> int:
        return self._jobs.counts().pending

    def close(self) -> None:
        self._leased.clear()


def open_queue(db: Database, name: str, amqp_url: str | None) -> MessageQueue:
    """RabbitMQ queue `name` if `amqp_url` is set, else an embedded queue in `db`.

    `db` must have been opened with `JOBQUEUE_SCHEMA` in its schema for the embedded queue.
    """
    if amqp_url:
        from targets.targetkit.amqp import AmqpQueue  # pika is needed only when a broker is used

        return AmqpQueue(amqp_url, name)
    return EmbeddedQueue(db, name)
