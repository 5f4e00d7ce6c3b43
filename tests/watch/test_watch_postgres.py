"""harness watch on a real Postgres ledger (the harness starts the server): the known duplicates through
/metrics with ``%(since)s`` as a timestamptz, and a session in which no write gets through."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from harness import metric_names as names
from harness.errors import ProbeError
from harness.services import ServiceSet
from harness.watch.config import WatchConfig
from harness.watch.ledger import LedgerReader
from harness.watch.loop import Watcher
from tests.services.conftest import started
from tests.watch.watching import known_ledger, polled_and_scraped, sample


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceSet]:
    yield from started(("postgres",), tmp_path_factory.mktemp("watch-postgres"))


@pytest.fixture
def ledger_dsn(postgres: ServiceSet, request: pytest.FixtureRequest) -> str:
    dsn = postgres.cell_env(f"watch-{request.node.name}")["HARNESS_POSTGRES_DSN"]
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "CREATE TABLE charges"
            " (id text PRIMARY KEY, reference text NOT NULL, created_at timestamptz NOT NULL)"
        )
    return dsn


def _config(dsn: str, query: str, timeout_s: float = 30.0) -> WatchConfig:
    return WatchConfig.model_validate(
        {
            "windows": ["5m", "1h"],
            "ledgers": [
                {
                    "name": "orders",
                    "source": "sql",
                    "dsn": dsn,
                    "query": query,
                    "since_format": "datetime",
                    "operation_field": "reference",
                    "timestamp_field": "created_at",
                    "id_field": "id",
                    "timeout_s": timeout_s,
                }
            ],
        }
    )


def test_the_watcher_exports_the_known_duplicate_rate_of_a_postgres_ledger(
    ledger_dsn: str, tmp_path: Path
) -> None:
    now = time.time()
    recent = known_ledger(21, 150, 17, now, span_s=240)
    ancient = known_ledger(22, 40, 40, now - 3 * 3600, span_s=600)  # before the horizon: never read
    with psycopg.connect(ledger_dsn) as connection, connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO charges (id, reference, created_at) VALUES (%s, %s, %s)",
            [(i, ref, datetime.fromtimestamp(t, tz=UTC)) for ref, i, t in recent.rows + ancient.rows],
        )
    query = "SELECT reference, id, created_at FROM charges WHERE created_at >= %(since)s"
    watcher = Watcher(_config(ledger_dsn, query), tmp_path / "out", report=pytest.fail)
    samples = polled_and_scraped(watcher)

    for window in ("5m", "1h"):
        labels = {"ledger": "orders", "window": window}
        assert sample(samples, names.WATCH_OPERATIONS, **labels) == recent.operations
        assert sample(samples, names.WATCH_DUPLICATED_OPERATIONS, **labels) == len(recent.duplicated)
        assert sample(samples, names.WATCH_DUPLICATE_EFFECTS, **labels) == recent.extra_effects
    assert sample(samples, names.WATCH_PROBE_UP, ledger="orders") == 1


@pytest.mark.parametrize(
    "query",
    [
        "INSERT INTO charges VALUES ('ch_x', 'op-x', now()) RETURNING reference, id, created_at",
        "SET SESSION default_transaction_read_only = off; "
        "INSERT INTO charges VALUES ('ch_y', 'op-y', now()) RETURNING reference, id, created_at",
        "COMMIT; INSERT INTO charges VALUES ('ch_z', 'op-z', now()) RETURNING reference, id, created_at",
    ],
)
def test_a_write_through_the_probes_postgres_session_fails_and_changes_nothing(
    ledger_dsn: str, query: str
) -> None:
    with pytest.raises(ProbeError, match=r"^ledgers\.orders\.query: Postgres: .*read-only transaction"):
        LedgerReader(_config(ledger_dsn, query).ledgers[0]).read(since=0.0)
    with psycopg.connect(ledger_dsn) as connection:
        assert connection.execute("SELECT count(*) FROM charges").fetchone() == (0,)


def test_a_postgres_query_slower_than_its_timeout_is_cancelled_by_the_server(ledger_dsn: str) -> None:
    slow = "SELECT reference, id, created_at FROM charges, pg_sleep(30) WHERE created_at >= %(since)s"
    reader = LedgerReader(_config(ledger_dsn, slow, timeout_s=0.3).ledgers[0])

    with pytest.raises(ProbeError, match=r"^ledgers\.orders\.query: .*statement timeout.*timeout_s"):
        reader.read(time.time() - 60)
