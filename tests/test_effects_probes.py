"""Declared effect probes: HTTP JSON paths, SQL against SQLite (and a Postgres DSN), a Python callable,
and the scenario field each failure names."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.effects import CallableProbe, HttpLedgerProbe, SqlProbe, dig, probe_for, require_effects
from harness.errors import ProbeError, ScenarioError
from harness.ledger import Effect
from harness.ports import free_port
from harness.scenario import EffectsSpec, load_scenario
from tests.threaded_server import served


class _Ledger(BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, bytes]] = {}

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        status, body = self.answers.get(self.path, (404, b"{}"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def ledger() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ledger)
    _Ledger.answers = {
        "/flat": (
            200,
            json.dumps([{"reference": "op-1", "id": "ch_1"}, {"reference": "op-1", "id": "ch_2"}]).encode(),
        ),
        "/nested": (
            200,
            json.dumps(
                {
                    "data": {
                        "items": [
                            {"id": 7, "metadata": {"op_id": "op-9"}},
                            {"id": 8, "metadata": {"op_id": "op-4"}},
                        ]
                    }
                }
            ).encode(),
        ),
        "/no-field": (200, json.dumps({"data": {"items": [{"id": 7, "metadata": {}}]}}).encode()),
        "/not-json": (200, b"<html>"),
        "/broken": (500, b"{}"),
    }
    with served(server, "ledger") as url:
        yield url


def test_dig_follows_dotted_paths() -> None:
    value = {"data": {"items": [{"metadata": {"op_id": "x"}}]}}
    assert dig(value, "data.items.0.metadata.op_id") == "x"
    assert dig(value, "data.items.1") is dig(value, "data.nothing") is dig(value, "data.items.0.x.y")
    assert dig(value, "data.items.1") not in (None, "x", [], {})


def test_http_flat_list(ledger: str) -> None:
    assert HttpLedgerProbe(f"{ledger}/flat").read() == [Effect("op-1", "ch_1"), Effect("op-1", "ch_2")]


def test_http_json_paths_to_list_and_op_ref(ledger: str) -> None:
    probe = HttpLedgerProbe(f"{ledger}/nested", op_ref_field="metadata.op_id", list_path="data.items")
    assert probe.read() == [Effect("op-9", "7"), Effect("op-4", "8")]


@pytest.mark.parametrize(
    ("path", "list_path", "field", "needle"),
    [
        ("/nested", "data.rows", "target.effects.list_path", "has no 'data.rows'"),
        ("/nested", "data", "target.effects.list_path", "expected a JSON list"),
        ("/no-field", "data.items", "target.effects.op_ref_field", "row 0 of GET"),
        ("/not-json", None, "target.effects.path", "did not return JSON"),
        ("/broken", None, "target.effects.path", "answered HTTP 500"),
    ],
)
def test_http_errors_name_the_field(
    ledger: str, path: str, list_path: str | None, field: str, needle: str
) -> None:
    probe = HttpLedgerProbe(f"{ledger}{path}", op_ref_field="metadata.op_id", list_path=list_path)
    with pytest.raises(ProbeError) as caught:
        probe.read()
    assert str(caught.value).startswith(f"{field}: ")
    assert needle in str(caught.value)


def test_http_nothing_listening_names_the_path() -> None:
    with pytest.raises(ProbeError, match=r"^target\.effects\.path: effects probe GET .* failed"):
        HttpLedgerProbe(f"http://127.0.0.1:{free_port()}/effects", timeout_s=1).read()


@pytest.fixture
def orders_db(tmp_path: Path) -> Path:
    path = tmp_path / "data" / "orders.db"
    path.parent.mkdir()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, client_ref TEXT)")
        connection.executemany(
            "INSERT INTO orders (client_ref) VALUES (?)", [("op-1",), ("op-2",), ("op-1",)]
        )
    return path


def test_sqlite_query_first_column_ref_second_id(orders_db: Path) -> None:
    effects = SqlProbe("SELECT client_ref, id FROM orders ORDER BY id", sqlite=orders_db).read()
    assert effects == [Effect("op-1", "1"), Effect("op-2", "2"), Effect("op-1", "3")]


def test_sqlite_query_without_an_id_column_numbers_rows(orders_db: Path) -> None:
    effects = SqlProbe("SELECT client_ref FROM orders ORDER BY id DESC", sqlite=orders_db).read()
    assert effects == [Effect("op-1", "0"), Effect("op-2", "1"), Effect("op-1", "2")]


def test_sqlite_probe_from_a_scenario_fills_data_dir(tmp_path: Path, orders_db: Path) -> None:
    spec = EffectsSpec(source="sql", sqlite="{data_dir}/orders.db", query="SELECT client_ref, id FROM orders")
    probe = probe_for(spec, "http://127.0.0.1:1", orders_db.parent, "naive")
    assert [effect.op_ref for effect in probe.read()] == ["op-1", "op-2", "op-1"]


@pytest.mark.parametrize(
    ("query", "field", "needle"),
    [
        ("SELECT ref FROM orders", "target.effects.query", "no such column: ref"),
        ("SELECT client_ref FROM order_lines", "target.effects.query", "no such table: order_lines"),
        ("SELECT NULL, id FROM orders", "target.effects.query", "row 0 has no op reference"),
        ("DELETE FROM orders", "target.effects.query", "readonly"),
    ],
)
def test_sqlite_errors_name_the_field(orders_db: Path, query: str, field: str, needle: str) -> None:
    with pytest.raises(ProbeError) as caught:
        SqlProbe(query, sqlite=orders_db).read()
    assert str(caught.value).startswith(f"{field}: ")
    assert needle in str(caught.value)
    with sqlite3.connect(orders_db) as connection:  # the probe changed nothing
        assert connection.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_sqlite_missing_file_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match=r"^target\.effects\.sqlite: no database file at .*absent\.db"):
        SqlProbe("SELECT 1", sqlite=tmp_path / "absent.db").read()
    assert not (tmp_path / "absent.db").exists()


def test_postgres_dsn_nobody_listening_names_the_dsn() -> None:
    probe = SqlProbe(
        "SELECT 1", dsn=f"postgresql://harness@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    )
    with pytest.raises(ProbeError, match=r"^target\.effects\.dsn: cannot connect to Postgres"):
        probe.read()


PROBES_MODULE = """
def refs(data_dir):
    return [line for line in (data_dir / "sent.txt").read_text().split()]

def rows(base_url, variant, **extra):
    return [{"meta": {"ref": "op-" + variant}, "id": 5}, {"meta": {"ref": base_url}}]

def missing():
    return [{"ref": "op-1"}]

def broken():
    raise RuntimeError("ledger offline")

def not_a_list():
    return {"op-1": 1}
"""


@pytest.fixture
def probes_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "userprobes"
    folder.mkdir()
    (folder / "byo_probes_for_tests.py").write_text(PROBES_MODULE)
    (folder / "sent.txt").write_text("op-3\nop-3\nop-8\n")
    return folder


def test_callable_returning_refs_gets_only_the_arguments_it_names(probes_dir: Path) -> None:
    arguments: dict[str, object] = {"base_url": "http://x", "data_dir": probes_dir, "variant": "naive"}
    probe = CallableProbe("byo_probes_for_tests:refs", (str(probes_dir),), arguments)
    assert probe.read() == [Effect("op-3", "0"), Effect("op-3", "1"), Effect("op-8", "2")]


def test_callable_returning_dicts_with_dotted_fields(probes_dir: Path) -> None:
    arguments: dict[str, object] = {"base_url": "http://x", "data_dir": probes_dir, "variant": "naive"}
    probe = CallableProbe("byo_probes_for_tests:rows", (str(probes_dir),), arguments, op_ref_field="meta.ref")
    assert probe.read() == [Effect("op-naive", "5"), Effect("http://x", "1")]


@pytest.mark.parametrize(
    ("target", "field", "needle"),
    [
        (
            "byo_probes_for_tests:missing",
            "target.effects.op_ref_field",
            "row 0 from byo_probes_for_tests:missing",
        ),
        ("byo_probes_for_tests:broken", "target.effects.callable", "raised RuntimeError: ledger offline"),
        ("byo_probes_for_tests:not_a_list", "target.effects.callable", "returned dict, not a list"),
        ("byo_probes_for_tests:absent", "target.effects.callable", "has no function 'absent'"),
        ("no_such_module_here:f", "target.effects.callable", "cannot import no_such_module_here"),
    ],
)
def test_callable_errors_name_the_field(probes_dir: Path, target: str, field: str, needle: str) -> None:
    with pytest.raises(ProbeError) as caught:
        CallableProbe(target, (str(probes_dir),), op_ref_field="meta.ref").read()
    assert str(caught.value).startswith(f"{field}: ")
    assert needle in str(caught.value)


def test_no_effects_while_operations_were_acknowledged_is_refused() -> None:
    require_effects([], 0, "sql")  # nothing acknowledged: nothing expected
    require_effects([Effect("op-1", "1")], 3, "sql")
    with pytest.raises(
        ProbeError, match=r"^target\.effects: the sql probe found no effects although 3 operations"
    ):
        require_effects([], 3, "sql")


def _scenario(tmp_path: Path, effects: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f"name: t\ntarget: {{name: payments, effects: {effects}}}\nfaults: {{none: {{}}}}\n")
    return path


@pytest.mark.parametrize(
    ("effects", "field", "needle"),
    [
        ("{source: sql, sqlite: x.db}", "target.effects", "query: required when source is sql"),
        ("{source: sql, query: 'SELECT 1'}", "target.effects", "exactly one of sqlite (a file) or dsn"),
        ("{source: sql, query: q, sqlite: a.db, dsn: 'postgresql://'}", "target.effects", "exactly one of"),
        ("{query: 'SELECT 1'}", "target.effects", "query: only with source: sql"),
        ("{source: callable, callable: 'nocolon'}", "target.effects", "expected 'module:function'"),
        ("{source: callable}", "target.effects", "expected 'module:function' (got None)"),
        ("{callable: 'm:f'}", "target.effects", "callable: only with source: callable"),
        ("{source: ledger}", "target.effects.source", "'target', 'smtp', 'sql' or 'callable'"),
    ],
)
def test_probe_declarations_are_checked_at_load(
    tmp_path: Path, effects: str, field: str, needle: str
) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario(_scenario(tmp_path, effects))
    assert f": {field}: " in str(caught.value)
    assert needle in str(caught.value)


def test_relative_sqlite_file_and_python_path_are_relative_to_the_scenario(tmp_path: Path) -> None:
    scenario = load_scenario(_scenario(tmp_path, "{source: sql, sqlite: db/x.db, query: 'SELECT 1'}"))
    assert scenario.target.effects.sqlite == str(tmp_path / "db" / "x.db")
    assert scenario.target.effects.python_path == (str(tmp_path),)
    kept = load_scenario(_scenario(tmp_path, "{source: sql, sqlite: '{data_dir}/x.db', query: 'SELECT 1'}"))
    assert kept.target.effects.sqlite == "{data_dir}/x.db"
