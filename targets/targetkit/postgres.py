"""Postgres for reference targets: the `SqlStore` surface over psycopg, READ COMMITTED like most services.

Postgres's default isolation level is kept on purpose: it is what services run in, and it is where a
check-then-act without a lock duplicates while `INSERT ... ON CONFLICT` and unique constraints do not.
One connection per transaction, as with SQLite: a handler in the thread pool never shares connection
state, and a target killed by the harness leaves nothing half-open in a pool; on loopback with trust or
password authentication a connection costs a few milliseconds. The schema is created under an advisory
lock, so targets starting at once on one database do not race on `CREATE TABLE IF NOT EXISTS`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import psycopg

from targets.targetkit.sql import Params, Sql, render_schema
from targets.targetkit.stores import POSTGRES_DSN_ENV, StoreUnavailable

CONNECT_TIMEOUT_S = 5
SCHEMA_LOCK_ID = 0x7461726765746B  # "targetk": any constant shared by every target's schema creation


class PostgresStore:
    """One Postgres database, named by a libpq DSN (`host=... port=... dbname=... user=...` or a URL)."""

    dialect: Literal["postgres"] = "postgres"

    def __init__(self, dsn: str, schema_template: str = "") -> None:
        self.dsn = dsn
        try:
            conn = self._connect()
        except psycopg.OperationalError as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise StoreUnavailable(f"{POSTGRES_DSN_ENV}: cannot connect: {first_line}") from None
        with conn:
            if schema_template:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
                    conn.execute(render_schema(schema_template, "postgres"))

    def _connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)

    @staticmethod
    def _bind(conn: psycopg.Connection[Any]) -> Sql:
        def execute(query: str, params: Params) -> psycopg.Cursor[Any]:
            return conn.execute(query, params)

        return Sql("postgres", execute)

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        with self._connect() as conn, conn.transaction():
            yield self._bind(conn)

    @contextmanager
    def reading(self) -> Iterator[Sql]:
        with self._connect() as conn:
            yield self._bind(conn)
