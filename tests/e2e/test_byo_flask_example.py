"""Your own service as the target: the Flask + SQLAlchemy example, started by command, probed by SQL."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.paths import REPO_ROOT
from harness.result import RunResult
from harness.run import RunOptions, run_scenario
from harness.scenario import load_scenario

EXAMPLE = REPO_ROOT / "examples" / "flask-orders"
SCENARIO = EXAMPLE / "scenario.yaml"
OPERATIONS = 30


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    out = tmp_path_factory.mktemp("reports")
    options = RunOptions(
        out_root=out, faults=("dropped-responses",), operations=OPERATIONS, fixed=True
    )
    return run_scenario(load_scenario(SCENARIO), str(SCENARIO), options)


def test_the_example_scenario_is_a_command_target_with_an_sql_probe() -> None:
    scenario = load_scenario(SCENARIO)
    assert scenario.target.kind == "command"
    assert scenario.target.cwd == str(EXAMPLE)
    assert scenario.target.variant("idempotent").env == {"ORDERS_IDEMPOTENT": "1"}
    assert scenario.target.effects.source == "sql"


def test_naive_variant_duplicates_orders(result: RunResult) -> None:
    cell = result.verdict.cell("naive", "dropped-responses")
    assert cell.operations == OPERATIONS
    assert cell.retries > 0
    assert cell.ops_with_duplicates > 0
    assert cell.lost_acknowledged == 0


def test_idempotent_variant_never_duplicates(result: RunResult) -> None:
    cell = result.verdict.cell("idempotent", "dropped-responses")
    assert cell.operations == OPERATIONS
    assert cell.retries > 0, "the fault never made the client retry"
    assert cell.ops_with_duplicates == 0
    assert cell.lost_acknowledged == 0
    assert cell.replay_mismatches == 0
    assert result.passed, [gate.message for gate in result.gates if not gate.passed]


def test_probe_rows_are_the_services_own_rows(result: RunResult) -> None:
    for variant in ("naive", "idempotent"):
        cell_dir = result.out_dir / "cells" / f"{variant}--dropped-responses"
        evidence = json.loads((cell_dir / "effects.json").read_text())
        with sqlite3.connect(cell_dir / "data" / "orders.db") as connection:
            rows = connection.execute("SELECT client_ref, id FROM orders ORDER BY id").fetchall()
        assert [(e["op_ref"], e["resource_id"]) for e in evidence] == [(ref, str(i)) for ref, i in rows]
    naive = result.verdict.cell("naive", "dropped-responses")
    assert len(rows) == OPERATIONS  # the idempotent variant's file: exactly one order per operation
    assert naive.extra_effects_per_1000 > 0


def test_a_probe_reading_the_wrong_table_exits_2_and_keeps_the_histories(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = yaml.safe_load(SCENARIO.read_text())
    data["target"]["cwd"] = str(EXAMPLE)
    data["target"]["variants"] = {"naive": {"env": {"ORDERS_IDEMPOTENT": "0"}}}
    data["target"]["effects"]["query"] = "SELECT client_ref, id FROM order_lines"
    data["gates"] = {}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    out = tmp_path / "reports"
    arguments = ["--out", str(out), "--fault", "latency", "--operations", "5", "--quiet"]
    status = main(["run", str(broken), *arguments])
    assert status == 2
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert "target.effects.query" in err and "no such table: order_lines" in err
    history = out / "latest" / "cells" / "naive--latency" / "history.jsonl"
    assert len(history.read_text().splitlines()) >= 5 * 2  # every op's start and end at least
