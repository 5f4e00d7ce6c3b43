"""A durable job queue in the target's own SQLite file, with leases so a crashed worker's job comes back.

Why a table and not a list in memory: a job accepted with `202 Accepted` must survive SIGKILL, so it is
committed before the answer (in the caller's transaction, see `put`). A worker `take`s a job by leasing
it; `complete` marks it done. A job whose worker died without completing it is taken again, either after
its lease runs out or at once when the next incarnation calls `recover()` at start-up. That redelivery is
at-least-once processing by design, which is exactly what turns a crash between an effect and its
mark-done into a duplicate effect unless the handler is idempotent.

One process owns one queue file: `recover()` assumes every lease it finds belongs to a dead incarnation.
Several logical queues may share the file (the `queue` column).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from targets.targetkit.sqlite import Database

JOBQUEUE_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_items (
    seq         INTEGER PRIMARY KEY,   -- delivery order, and the handle of one copy of a job
    queue       TEXT    NOT NULL,
    item_id     TEXT    NOT NULL,      -- the job or message id; NOT unique: a message may be sent twice
    payload     TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('ready', 'leased', 'done')),
    deliveries  INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,                  -- epoch seconds; a leased item past this time is taken again
    enqueued_at REAL    NOT NULL,
    done_at     REAL
);
CREATE INDEX IF NOT EXISTS queue_items_state ON queue_items (queue, state, seq);
"""

DEFAULT_LEASE_S = 30.0


@dataclass(frozen=True)
class Job:
    """One leased copy of a job; `deliveries` > 1 means it was taken before and not completed."""

    seq: int
    item_id: str
    payload: str
    deliveries: int

    @property
    def redelivered(self) -> bool:
        return self.deliveries > 1


@dataclass(frozen=True)
class QueueCounts:
    """How many items wait (`ready`), are being worked on (`leased`) and are finished (`done`)."""

    ready: int
    leased: int
    done: int

    @property
    def pending(self) -> int:
        """Work not finished yet: what a harness waits to reach zero before reading effects."""
        return self.ready + self.leased


class JobQueue:
    """SQL for one logical queue in `queue_items`; `put` and `complete_in` join the caller's transaction."""

    def __init__(self, db: Database, queue: str, lease_s: float = DEFAULT_LEASE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self.queue = queue
        self.lease_s = lease_s
        self._clock = clock

    def put(self, conn: sqlite3.Connection, item_id: str, payload: str) -> int:
        """Enqueue inside the caller's transaction, so the job commits together with the caller's rows."""
        cursor = conn.execute(
            "INSERT INTO queue_items (queue, item_id, payload, state, enqueued_at)"
            " VALUES (?, ?, ?, 'ready', ?)",
            (self.queue, item_id, payload, self._clock()),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def take(self) -> Job | None:
        """Lease the oldest ready (or lease-expired) item, or return None if there is none."""
        now = self._clock()
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT seq, item_id, payload, deliveries FROM queue_items WHERE queue = ?"
                " AND (state = 'ready' OR (state = 'leased' AND lease_until <= ?)) ORDER BY seq LIMIT 1",
                (self.queue, now),
            ).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE queue_items SET state = 'leased', deliveries = deliveries + 1, lease_until = ?"
                " WHERE seq = ?",
                (now + self.lease_s, row["seq"]),
            )
        return Job(row["seq"], row["item_id"], row["payload"], row["deliveries"] + 1)

    def complete_in(self, conn: sqlite3.Connection, job: Job) -> None:
        """Mark `job` done inside the caller's transaction."""
        conn.execute("UPDATE queue_items SET state = 'done', lease_until = NULL, done_at = ? WHERE seq = ?",
                     (self._clock(), job.seq))

    def complete(self, job: Job) -> None:
        """Mark `job` done in a transaction of its own (the acknowledgement of a message)."""
        with self._db.transaction() as conn:
            self.complete_in(conn, job)

    def release(self, job: Job) -> None:
        """Give a leased job back at once, for a worker that failed cleanly and wants it retried."""
        with self._db.transaction() as conn:
            conn.execute("UPDATE queue_items SET state = 'ready', lease_until = NULL"
                         " WHERE seq = ? AND state = 'leased'", (job.seq,))

    def recover(self) -> int:
        """Make every leased item ready again; call once at start-up. Returns how many came back."""
        with self._db.transaction() as conn:
            return conn.execute("UPDATE queue_items SET state = 'ready', lease_until = NULL"
                                " WHERE queue = ? AND state = 'leased'", (self.queue,)).rowcount

    def counts(self) -> QueueCounts:
        with self._db.reading() as conn:
            rows = conn.execute("SELECT state, COUNT(*) AS n FROM queue_items WHERE queue = ? GROUP BY state",
                                (self.queue,)).fetchall()
        by_state = {row["state"]: row["n"] for row in rows}
        return QueueCounts(by_state.get("ready", 0), by_state.get("leased", 0), by_state.get("done", 0))
