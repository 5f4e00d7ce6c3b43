"""Which store a variant keeps its data in, read from the environment the harness sets per cell.

- `HARNESS_POSTGRES_DSN`: a libpq DSN or URL of the cell's own Postgres database.
- `HARNESS_REDIS_URL`: `redis://host:port/db`; `HARNESS_REDIS_PREFIX` starts every key the target
  writes, so cells sharing one Redis server never see each other's keys.

A variant that needs a store whose variable is missing raises `ValueError` naming the variable, which
`targetkit.launch` turns into exit status 2: a campaign must not quietly fall back to another store.
Drivers are imported only when a variant uses them, so SQLite variants start without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from targets.targetkit.config import TargetConfig
from targets.targetkit.sql import Dialect, SqlStore
from targets.targetkit.sqlite_store import SqliteStore

if TYPE_CHECKING:
    import redis

POSTGRES_DSN_ENV = "HARNESS_POSTGRES_DSN"
REDIS_URL_ENV = "HARNESS_REDIS_URL"
REDIS_PREFIX_ENV = "HARNESS_REDIS_PREFIX"


class StoreUnavailable(ValueError):
    """The store the environment names cannot be reached at start: the run cannot be made (status 2)."""


def required_setting(environ: Mapping[str, str], name: str, variant: str, store: str) -> str:
    """The value of `name`, or a one-line `ValueError` naming it and the variant that needs it."""
    value = environ.get(name, "").strip()
    if not value:
        raise ValueError(f"{name} is not set: variant {variant!r} keeps its data in {store}")
    return value


def open_sql_store(dialect: Dialect, config: TargetConfig, environ: Mapping[str, str],
                   schema_template: str) -> SqlStore:
    """SQLite in the `--db` file, or Postgres at HARNESS_POSTGRES_DSN, with the schema created."""
    if dialect == "sqlite":
        return SqliteStore(config.db_path, schema_template)
    from targets.targetkit.postgres import PostgresStore

    dsn = required_setting(environ, POSTGRES_DSN_ENV, config.variant, "Postgres")
    return PostgresStore(dsn, schema_template)


@dataclass(frozen=True)
class RedisHandle:
    """A connected client and the prefix every key of this cell starts with."""

    client: redis.Redis
    prefix: str

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)


def open_redis(environ: Mapping[str, str], variant: str) -> RedisHandle:
    """Connect to HARNESS_REDIS_URL and check it answers, so a wrong URL fails the start, not a request."""
    import redis

    url = required_setting(environ, REDIS_URL_ENV, variant, "Redis")
    try:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        client.ping()
    except (redis.RedisError, ValueError) as error:
        raise StoreUnavailable(f"{REDIS_URL_ENV}: cannot connect to {url}: {error}") from None
    return RedisHandle(client, environ.get(REDIS_PREFIX_ENV, ""))
