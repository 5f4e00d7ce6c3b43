"""`targetkit.sqlite.Database` behind the `SqlStore` surface, for queries shared with Postgres."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from targets.targetkit.sql import Sql, render_schema
from targets.targetkit.sqlite import Database


class SqliteStore:
    """One SQLite file; its write transactions take the lock up front (`BEGIN IMMEDIATE`), see sqlite.py."""

    dialect: Literal["sqlite"] = "sqlite"

    def __init__(self, path: Path | str, schema_template: str = "") -> None:
        self.database = Database(path, render_schema(schema_template, "sqlite"))

    @contextmanager
    def transaction(self) -> Iterator[Sql]:
        with self.database.transaction() as conn:
            yield Sql("sqlite", conn.execute)

    @contextmanager
    def reading(self) -> Iterator[Sql]:
        with self.database.reading() as conn:
            yield Sql("sqlite", conn.execute)
