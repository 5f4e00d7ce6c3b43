"""The embedded queue (targetkit.jobqueue, targetkit.messaging): leases, redelivery, acks, counts."""

from __future__ import annotations

from pathlib import Path

from targets.targetkit import Database
from targets.targetkit.jobqueue import JOBQUEUE_SCHEMA, JobQueue, QueueCounts
from targets.targetkit.messaging import EmbeddedQueue


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _queue(tmp_path: Path, clock: Clock, name: str = "q") -> tuple[Database, JobQueue]:
    db = Database(tmp_path / "q.db", JOBQUEUE_SCHEMA)
    return db, JobQueue(db, name, lease_s=10.0, clock=clock)


def test_jobs_are_taken_in_order_and_a_leased_job_is_not_taken_twice(tmp_path: Path) -> None:
    clock = Clock()
    db, jobs = _queue(tmp_path, clock)
    with db.transaction() as conn:
        jobs.put(conn, "a", "{}")
        jobs.put(conn, "b", "{}")
    first, second, none = jobs.take(), jobs.take(), jobs.take()
    assert first is not None and second is not None
    assert (first.item_id, second.item_id, none) == ("a", "b", None)
    assert (first.deliveries, first.redelivered) == (1, False)
    assert jobs.counts() == QueueCounts(ready=0, leased=2, done=0)


def test_an_expired_lease_is_taken_again_as_a_redelivery(tmp_path: Path) -> None:
    clock = Clock()
    db, jobs = _queue(tmp_path, clock)
    with db.transaction() as conn:
        jobs.put(conn, "a", "{}")
    assert jobs.take() is not None
    clock.now += 9.9
    assert jobs.take() is None
    clock.now += 0.1
    again = jobs.take()
    assert again is not None
    assert (again.item_id, again.deliveries, again.redelivered) == ("a", 2, True)


def test_recover_returns_leases_of_a_dead_incarnation_and_complete_finishes(tmp_path: Path) -> None:
    clock = Clock()
    db, jobs = _queue(tmp_path, clock)
    other = JobQueue(db, "other", clock=clock)
    with db.transaction() as conn:
        jobs.put(conn, "a", "{}")
        other.put(conn, "x", "{}")
    assert jobs.take() is not None and other.take() is not None
    assert jobs.recover() == 1
    retaken = jobs.take()
    assert retaken is not None
    jobs.complete(retaken)
    assert (jobs.counts(), other.counts()) == (QueueCounts(0, 0, 1), QueueCounts(0, 1, 0))
    assert jobs.counts().pending == 0


def test_a_job_put_in_a_rolled_back_transaction_is_not_queued(tmp_path: Path) -> None:
    db, jobs = _queue(tmp_path, Clock())
    try:
        with db.transaction() as conn:
            jobs.put(conn, "a", "{}")
            raise RuntimeError("the caller's write failed")
    except RuntimeError:
        pass
    assert (jobs.take(), jobs.counts()) == (None, QueueCounts(0, 0, 0))


def test_embedded_queue_delivers_an_unacked_message_again_after_prepare(tmp_path: Path) -> None:
    db = Database(tmp_path / "q.db", JOBQUEUE_SCHEMA)
    queue = EmbeddedQueue(db, "ns.messages")
    queue.publish("m-1", b'{"n": 1}')
    first = queue.receive()
    assert first is not None
    assert (first.message_id, first.body, first.redelivered) == ("m-1", b'{"n": 1}', False)
    assert queue.pending() == 1

    restarted = EmbeddedQueue(db, "ns.messages")
    restarted.prepare()
    again = restarted.receive()
    assert again is not None
    assert (again.message_id, again.redelivered) == ("m-1", True)
    restarted.ack(again)
    assert (restarted.pending(), restarted.receive()) == (0, None)
