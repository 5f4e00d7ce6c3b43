"""SQLite access for reference targets: durable commits and one connection per transaction.

WAL mode with `synchronous=FULL` makes a commit durable once `COMMIT` returns, even if the process is
SIGKILLed the next instant; that is the promise the crash faults test. A fresh connection per transaction
keeps handlers that run in a thread pool free of shared connection state; opening one costs well under a
millisecond. Writers take the lock up front (`BEGIN IMMEDIATE`) so two requests never both read, then both
fail to upgrade to a write lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_MS = 5000


class Database:
    """One SQLite file; `transaction()` for writes, `reading()` for single-snapshot reads."""

    def __init__(self, path: Path | str, schema: str = "") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        try:
            # journal_mode is a property of the file, so set it once; synchronous is per connection.
            conn.execute("PRAGMA journal_mode=WAL")
            if schema:
                conn.executescript(schema)
        finally:
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the sqlite3 module starts no transactions behind our back.
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: committed if the block ends normally, rolled back if it raises."""
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads; wrap several statements in `BEGIN` yourself if they need one snapshot."""
        conn = self._connect()
        try:
            yield conn
        finally:
            conn.close()
