"""Idempotency-Key semantics of the kit, without HTTP: store, expiry, atomicity, header and config."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from factories import SimulatedCrash, simulated_crash

from targets.targetkit import KEYSTORE_SCHEMA, Database, Failpoints, IdempotentExecutor, Verdict, fingerprint
from targets.targetkit.config import parse_config
from targets.targetkit.failpoints import AFTER_COMMIT_BEFORE_RESPONSE, BEFORE_COMMIT
from targets.targetkit.http_idempotency import parse_idempotency_key
from targets.targetkit.keystore import StoredResponse
from targets.targetkit.problems import ProblemError

SCHEMA = KEYSTORE_SCHEMA + "CREATE TABLE effects (n INTEGER NOT NULL);"
TTL_S = 100.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _write_effect(conn: sqlite3.Connection) -> StoredResponse:
    conn.execute("INSERT INTO effects (n) VALUES (1)")
    return StoredResponse(201, '{"ok":true}')


def _count(db: Database, table: str) -> int:
    with db.reading() as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _no_work() -> None:
    pass


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database(tmp_path / "kit.db", SCHEMA)


def test_fingerprint_ignores_key_order_but_not_values() -> None:
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    assert fingerprint({"a": 1}) != fingerprint({"a": 1, "extra": None})


def test_database_is_wal_with_full_sync(db: Database) -> None:
    with db.reading() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_keys_replay_until_they_expire_and_are_purged(db: Database) -> None:
    clock = FakeClock()
    executor = IdempotentExecutor(db, Failpoints({}), "op", ttl_s=TTL_S, clock=clock)

    assert executor.execute("k", "f", _no_work, _write_effect).verdict is Verdict.FRESH
    clock.now += TTL_S - 1
    replay = executor.execute("k", "f", _no_work, _write_effect)
    assert (replay.verdict, replay.response) == (Verdict.REPLAYED, StoredResponse(201, '{"ok":true}'))
    assert _count(db, "effects") == 1

    clock.now += 1  # exactly at expires_at: expired
    assert executor.execute("other", "f", _no_work, _write_effect).verdict is Verdict.FRESH
    with db.reading() as conn:
        keys = [row[0] for row in conn.execute("SELECT key FROM idempotency_keys")]
    assert keys == ["other"]  # "k" was purged lazily by the request for "other"
    assert executor.execute("k", "f", _no_work, _write_effect).verdict is Verdict.FRESH
    assert _count(db, "effects") == 3


def test_same_key_different_payload_is_a_mismatch(db: Database) -> None:
    executor = IdempotentExecutor(db, Failpoints({}), "op")
    executor.execute("k", "f1", _no_work, _write_effect)
    assert executor.execute("k", "f2", _no_work, _write_effect).verdict is Verdict.PAYLOAD_MISMATCH
    assert _count(db, "effects") == 1


def test_keys_are_scoped_per_operation(db: Database) -> None:
    IdempotentExecutor(db, Failpoints({}), "op-a").execute("k", "f", _no_work, _write_effect)
    outcome = IdempotentExecutor(db, Failpoints({}), "op-b").execute("k", "f", _no_work, _write_effect)
    assert outcome.verdict is Verdict.FRESH


def test_crash_before_commit_leaves_neither_effect_nor_key(db: Database) -> None:
    crashing = IdempotentExecutor(db, Failpoints({BEFORE_COMMIT: 1.0}, crash=simulated_crash), "op")
    with pytest.raises(SimulatedCrash):
        crashing.execute("k", "f", _no_work, _write_effect)
    assert (_count(db, "effects"), _count(db, "idempotency_keys")) == (0, 0)
    assert "k" not in crashing.in_flight


def test_crash_after_commit_leaves_both_and_the_retry_replays(db: Database) -> None:
    failpoints = Failpoints({AFTER_COMMIT_BEFORE_RESPONSE: 1.0}, crash=simulated_crash)
    crashing = IdempotentExecutor(db, failpoints, "op")
    with pytest.raises(SimulatedCrash):
        crashing.execute("k", "f", _no_work, _write_effect)
    assert (_count(db, "effects"), _count(db, "idempotency_keys")) == (1, 1)

    restarted = IdempotentExecutor(db, Failpoints({}), "op")
    assert restarted.execute("k", "f", _no_work, _write_effect).verdict is Verdict.REPLAYED
    assert _count(db, "effects") == 1


def test_a_failed_write_stores_no_key_so_a_retry_runs_again(db: Database) -> None:
    executor = IdempotentExecutor(db, Failpoints({}), "op")

    def failing_write(conn: sqlite3.Connection) -> StoredResponse:
        _write_effect(conn)
        raise RuntimeError("processor unavailable")

    with pytest.raises(RuntimeError):
        executor.execute("k", "f", _no_work, failing_write)
    assert executor.execute("k", "f", _no_work, _write_effect).verdict is Verdict.FRESH
    assert _count(db, "effects") == 1


@pytest.mark.parametrize(("raw", "key"), [("abc", "abc"), ('"abc"', "abc"), (" abc ", "abc")])
def test_header_accepts_bare_and_structured_field_strings(raw: str, key: str) -> None:
    assert parse_idempotency_key(raw) == key


@pytest.mark.parametrize(("raw", "status", "title"), [
    (None, 400, "Idempotency-Key is missing"),
    ('""', 400, "Idempotency-Key is invalid"),
    ("x" * 256, 400, "Idempotency-Key is invalid"),
])
def test_header_problems(raw: str | None, status: int, title: str) -> None:
    with pytest.raises(ProblemError) as raised:
        parse_idempotency_key(raw)
    assert (raised.value.problem.status, raised.value.problem.title) == (status, title)


def test_config_reads_arguments_and_environment(tmp_path: Path) -> None:
    argv = ["--port", "8123", "--variant", "idempotent", "--db", str(tmp_path / "x.db")]
    environ = {"HARNESS_FAILPOINTS": "before_commit=0.5", "HARNESS_SEED": "9", "HARNESS_INCARNATION": "2",
               "HARNESS_WORK_MS": "15"}
    config = parse_config(argv, environ, description="t")
    assert (config.host, config.port, config.variant, config.db_path) == (
        "127.0.0.1", 8123, "idempotent", tmp_path / "x.db")
    assert (dict(config.failpoints), config.seed, config.incarnation, config.work_ms) == (
        {BEFORE_COMMIT: 0.5}, 9, 2, 15)


@pytest.mark.parametrize("environ", [{"HARNESS_SEED": "x"}, {"HARNESS_FAILPOINTS": "nope=1"},
                                     {"HARNESS_WORK_MS": "-5"}])
def test_config_errors_exit_with_status_2(environ: dict[str, str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        parse_config(["--port", "1", "--variant", "naive", "--db", "x.db"], environ, description="t")
    assert raised.value.code == 2
    assert next(iter(environ)) in capsys.readouterr().err
