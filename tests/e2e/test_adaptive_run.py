"""A cell stops once every gate on it is decided, and its evidence is as complete as a fixed run's."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli import main
from harness.history import OpEnd, OpStart, read_history
from harness.run import RunOptions, run_scenario
from harness.scenario import load_scenario

BUDGET = 400
SCENARIO = f"""
name: adaptive
seed: 77
target: {{name: payments, variants: [naive, idempotent]}}
load:
  operations: {BUDGET}
  users: 6
  max_duration_s: 60
  retry: {{max_attempts: 10, timeout_s: 0.5, backoff_base_s: 0.05, backoff_max_s: 0.5}}
faults:
  drops:
    toxics: [{{type: drop_response, toxicity: 0.3, attributes: {{mode: reset}}}}]
gates:
  idempotent: {{max_duplicate_rate: 0, resolution: 0.2, max_lost_acknowledged: 0}}
  naive: {{min_duplicate_rate: 0.01}}
"""


def test_cells_stop_once_decided_with_complete_histories(tmp_path: Path) -> None:
    path = tmp_path / "adaptive.yaml"
    path.write_text(SCENARIO)
    assert main(["run", str(path), "--out", str(tmp_path), "--quiet"]) == 0
    (run_dir,) = (folder for folder in tmp_path.iterdir() if folder.name.endswith("-adaptive"))
    run = json.loads((run_dir / "run.json").read_text())
    for cell in run["verdict"]["cells"]:
        where = f"{cell['variant']} × {cell['fault']}"
        stop = cell["stop"]
        assert stop is not None and stop["reason"] == "decided", where
        assert stop["operations"] <= cell["operations"] < BUDGET, where
        assert (run_dir / "cells" / f"{cell['variant']}--drops" / "stop.json").is_file()
        events = read_history([run_dir / "cells" / f"{cell['variant']}--drops" / "history.jsonl"])
        started = {event.op_id for event in events if isinstance(event, OpStart)}
        assert started == {event.op_id for event in events if isinstance(event, OpEnd)}, where
    (idempotent,) = (cell for cell in run["verdict"]["cells"] if cell["variant"] == "idempotent")
    assert "upper bound" in idempotent["stop"]["bounds"][0]
    # the note is part of the cell's evidence: `harness report` makes the same verdict again
    assert main(["report", str(run_dir)]) == 0
    assert json.loads((run_dir / "run.json").read_text())["verdict"] == run["verdict"]


def test_fixed_runs_every_operation(tmp_path: Path) -> None:
    path = tmp_path / "adaptive.yaml"
    path.write_text(SCENARIO.replace(f"operations: {BUDGET}", "operations: 30"))
    options = RunOptions(out_root=tmp_path / "reports", fixed=True, faults=("drops",))
    result = run_scenario(load_scenario(path), str(path), options)
    assert [(cell.operations, cell.stop) for cell in result.verdict.cells] == [(30, None), (30, None)]
