"""One small SQL surface over SQLite and Postgres, so a target writes each query once.

A reference target that runs one strategy on SQLite and another on Postgres should differ in the
strategy, not in driver plumbing. Queries are written with qmark placeholders (`?`, SQLite's own
style) and are rewritten to psycopg's `%s` on Postgres; rows come back as plain dicts. Only what both
stores accept is used: `INSERT ... ON CONFLICT (column) DO NOTHING RETURNING` (SQLite 3.35+), `UPDATE
... RETURNING`. Table definitions differ in one spot, the auto-numbered key, which `render_schema` fills.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Literal, Protocol

Dialect = Literal["sqlite", "postgres"]
Row = dict[str, Any]
Params = Sequence[Any]

SERIAL_PRIMARY_KEY: dict[Dialect, str] = {
    "sqlite": "INTEGER PRIMARY KEY",  # an alias of the rowid: numbered on insert
    "postgres": "BIGSERIAL PRIMARY KEY",
}


def render_schema(template: str, dialect: Dialect) -> str:
    """Fill `{serial}` in a schema template with the dialect's auto-numbered primary key."""
    return template.format(serial=SERIAL_PRIMARY_KEY[dialect])


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    @property
    def description(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Sql:
    """Statements inside one transaction (or one autocommit connection), whatever the store."""

    def __init__(self, dialect: Dialect, execute: Callable[[str, Params], _Cursor]) -> None:
        self.dialect = dialect
        self._execute = execute

    def _run(self, query: str, params: Params) -> _Cursor:
        if self.dialect == "postgres":
            query = query.replace("%", "%%").replace("?", "%s")
        return self._execute(query, params)

    def execute(self, query: str, params: Params = ()) -> int:
        """Run a statement; returns the number of rows it changed."""
        return self._run(query, params).rowcount

    def all(self, query: str, params: Params = ()) -> list[Row]:
        cursor = self._run(query, params)
        if cursor.description is None:
            return []
        columns = [column[0] for column in cursor.description]
        return [dict(zip(columns, tuple(row), strict=True)) for row in cursor.fetchall()]

    def one(self, query: str, params: Params = ()) -> Row | None:
        """The first row, or None; meant for queries that return at most one."""
        rows = self.all(query, params)
        return rows[0] if rows else None


class SqlStore(Protocol):
    """A database a target keeps its effects in: SQLite (`SqliteStore`) or Postgres (`PostgresStore`)."""

    @property
    def dialect(self) -> Dialect: ...

    def transaction(self) -> AbstractContextManager[Sql]:
        """A write transaction: committed if the block ends normally, rolled back if it raises."""

    def reading(self) -> AbstractContextManager[Sql]:
        """Autocommit statements outside any transaction, for reads that need no lock."""
