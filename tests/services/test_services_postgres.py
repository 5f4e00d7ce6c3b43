"""Postgres as a run service: a real server, a fresh database per cell, ON CONFLICT and row locks."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import psycopg

from harness.proctable import snapshot, still_alive
from harness.runtime.base import Endpoint
from harness.services import ServiceSet
from harness.services.base import ServiceContext
from harness.services.binaries import BinaryLookup
from harness.services.postgres import start, traversable_by_others
from tests.services.conftest import require

UPSERT = (
    "INSERT INTO charges (reference, amount) VALUES (%s, %s) "
    "ON CONFLICT (reference) DO UPDATE SET attempts = charges.attempts + 1 RETURNING attempts"
)


def _charges_table(dsn: str) -> None:
    with psycopg.connect(dsn) as connection:
        connection.execute(
            "CREATE TABLE charges "
            "(reference text PRIMARY KEY, amount int NOT NULL, attempts int NOT NULL DEFAULT 1)"
        )


def test_cell_database_takes_an_on_conflict_upsert(stores: ServiceSet) -> None:
    dsn = stores.cell_env("pg-upsert")["HARNESS_POSTGRES_DSN"]
    port = stores.endpoints["postgres"].port
    assert dsn == f"postgresql://harness@127.0.0.1:{port}/cell_pg_upsert"
    _charges_table(dsn)
    with psycopg.connect(dsn) as connection:
        attempts = [connection.execute(UPSERT, ("op-1", 500)).fetchone() for _ in range(3)]
        locked = connection.execute(
            "SELECT amount FROM charges WHERE reference = 'op-1' FOR UPDATE"
        ).fetchall()
        got_lock = connection.execute("SELECT pg_try_advisory_xact_lock(42)").fetchone()
    assert attempts == [(1,), (2,), (3,)]
    assert locked == [(500,)]
    assert got_lock == (True,)


def test_cells_do_not_see_each_others_rows(stores: ServiceSet) -> None:
    stores.prepare(["naive--dropped-responses", "idempotent--dropped-responses"])
    first = stores.cell_env("naive--dropped-responses")["HARNESS_POSTGRES_DSN"]
    second = stores.cell_env("idempotent--dropped-responses")["HARNESS_POSTGRES_DSN"]
    for dsn in (first, second):
        _charges_table(dsn)
    with psycopg.connect(first) as connection:
        connection.execute(UPSERT, ("op-1", 100))
    with psycopg.connect(second) as connection:
        rows = connection.execute("SELECT count(*) FROM charges").fetchone()
        database = connection.execute("SELECT current_database()").fetchone()
    assert rows == (0,)
    assert database == ("cell_idempotent_dropped_responses",)


def test_asking_again_for_a_cell_keeps_its_database(stores: ServiceSet) -> None:
    dsn = stores.cell_env("pg-again")["HARNESS_POSTGRES_DSN"]
    _charges_table(dsn)
    with psycopg.connect(dsn) as connection:
        connection.execute(UPSERT, ("op-1", 100))
    assert stores.cell_env("pg-again")["HARNESS_POSTGRES_DSN"] == dsn
    with psycopg.connect(dsn) as connection:
        assert connection.execute("SELECT count(*) FROM charges").fetchone() == (1,)


def test_addresses_override_host_and_port_only(stores: ServiceSet) -> None:
    env = stores.cell_env("pg-proxied", {"postgres": Endpoint("127.0.0.1", 4321)})
    assert env["HARNESS_POSTGRES_DSN"] == "postgresql://harness@127.0.0.1:4321/cell_pg_proxied"


def test_stop_ends_the_server_and_its_backends_and_removes_the_data(tmp_path: Path) -> None:
    require("postgres")
    service = start(ServiceContext(tmp_path / "pg", None, BinaryLookup()))
    data_dir = service.data_dir
    processes = snapshot(service.pids())
    if os.geteuid() == 0:  # pytest's tmp folders are 0700: the postgres user gets its own temp folder
        assert not data_dir.is_relative_to(tmp_path)
        assert data_dir.stat().st_uid == pwd.getpwnam("postgres").pw_uid
    service.stop()
    service.stop()
    # postmaster, checkpointer, background writer, walwriter, autovacuum, logical replication launcher
    assert len(processes) >= 5
    assert still_alive(processes) == []
    assert not data_dir.exists()
    assert (tmp_path / "pg" / "postgres.log").stat().st_size > 0


def test_a_folder_is_traversable_only_if_every_parent_lets_others_through() -> None:
    world = Path(tempfile.mkdtemp(prefix="harness-test-"))
    try:
        world.chmod(0o755)
        (world / "open" / "inner").mkdir(parents=True, mode=0o755)
        (world / "closed").mkdir(mode=0o700)
        (world / "closed" / "inner").mkdir(mode=0o755)
        reachable = [traversable_by_others(world / name / "inner") for name in ("open", "closed")]
    finally:
        shutil.rmtree(world)
    assert reachable == [True, False]
