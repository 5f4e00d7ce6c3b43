"""A green verdict must mean the fault hit and nothing was duplicated, for real targets too: a service
answering 500 to everything is inconclusive (exit 1), and a rerun against a store that outlives the
run (a command target with a fixed database file) never reuses last run's operation ids or keys."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.paths import REPO_ROOT
from harness.run import RunOptions, run_scenario
from harness.scenario import load_scenario

SERVICES = Path(__file__).parent / "services"
EXAMPLE = REPO_ROOT / "examples" / "flask-orders"


def test_a_target_answering_500_to_everything_is_inconclusive_and_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "always-500.yaml"
    scenario.write_text(
        f"""
name: always-500
target:
  command: ["{sys.executable}", "{SERVICES / 'always_500.py'}", --port, "{{port}}"]
  variants: [idempotent]
load: {{operations: 12, users: 3, retry: {{max_attempts: 2, timeout_s: 0.5, backoff_base_s: 0.01}}}}
faults:
  dropped-responses: {{toxics: [{{type: drop_response, toxicity: 0.5, attributes: {{mode: reset}}}}]}}
gates:
  idempotent: {{max_duplicate_rate: 0, max_lost_acknowledged: 0}}
"""
    )
    assert main(["run", str(scenario), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # as one line, however the console wrapped it
    assert "acknowledged: 0 of 12 operations acknowledged (0%), below min_acknowledged_rate 50%" in out
    assert "attempts were answered" in out and "500 ×" in out
    assert "Gates: FAIL" in out and "cannot be checked: the cell is inconclusive" in out


def test_a_rerun_against_a_persistent_store_uses_new_ids(tmp_path: Path) -> None:
    database = tmp_path / "kept-across-runs.db"
    scenario_file = tmp_path / "rerun.yaml"
    scenario_file.write_text(
        f"""
name: command-rerun
seed: 3
target:
  command: ["{{python}}", app.py, --port, "{{port}}", --db, "{database}"]
  cwd: {EXAMPLE}
  env: {{ORDERS_IDEMPOTENT: "1"}}
  variants: [idempotent]
  operations: [{{path: /api/orders, body: {{client_ref: "{{op_id}}", item: mug, quantity: 1}}}}]
  effects: {{path: /api/orders, list_path: data.items, op_ref_field: client_ref}}
load: {{operations: 10, users: 2}}
faults: {{none: {{}}}}
"""
    )
    scenario = load_scenario(scenario_file)
    first, second = (
        run_scenario(scenario, str(scenario_file), RunOptions(out_root=tmp_path / "r")).verdict.cell(
            "idempotent", "none"
        )
        for _ in range(2)
    )
    assert (first.operations, first.acknowledged, first.orphan_effects) == (10, 10, 0)
    assert first.ops_with_duplicates == 0 and second.ops_with_duplicates == 0
    assert second.orphan_effects == 10  # last run's orders, under last run's ids, are not this run's
    assert second.acknowledged == 10 and second.validity == "valid"
