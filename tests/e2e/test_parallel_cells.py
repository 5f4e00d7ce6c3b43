"""Cells at once, end to end: real targets, the embedded proxy and Locust, two cells at a time, reach
the verdicts a run of one cell at a time reaches for the same seed, and the planned kills still land."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli import main
from harness.history import OpEnd, OpStart, read_history
from harness.result import RunResult
from harness.run import RunOptions, run_scenario
from harness.scenario import load_scenario

SCENARIO = Path(__file__).with_name("small_payments.yaml")
FAULTS = ("dropped-responses", "crash")  # a toxic and the nemesis's kills and restarts


def verdicts(cells: list[dict[str, object]]) -> dict[tuple[object, object], object]:
    return {(cell["variant"], cell["fault"]): cell["validity"] for cell in cells}


def op_span(cell_dir: Path) -> tuple[float, float]:
    """When the cell's first operation started and its last one ended."""
    events = read_history([cell_dir / "history.jsonl"])
    return (
        min(event.t for event in events if isinstance(event, OpStart)),
        max(event.t for event in events if isinstance(event, OpEnd)),
    )


def test_two_cells_at_once_reach_the_verdicts_of_one_at_a_time(tmp_path: Path) -> None:
    faults = [argument for fault in FAULTS for argument in ("--fault", fault)]
    out = tmp_path / "parallel"
    assert main(["run", str(SCENARIO), "--parallel", "2", *faults, "--out", str(out), "--quiet"]) == 0
    run_dir = (out / "latest").resolve()
    document = json.loads((run_dir / "run.json").read_text())
    options = RunOptions(out_root=tmp_path / "sequential", faults=FAULTS, parallel_cells=1)
    sequential: RunResult = run_scenario(load_scenario(SCENARIO), str(SCENARIO), options)

    cells = document["verdict"]["cells"]
    in_scenario_order = [(variant, fault) for fault in FAULTS for variant in ("naive", "idempotent")]
    assert [(cell["variant"], cell["fault"]) for cell in cells] == in_scenario_order
    # naive × crash too: an operation the failpoint hit is retried into the restarted target, since a
    # refused connection waits at least half the backoff cap (the attempts outlast a restart)
    parallel = verdicts(cells)
    one_at_a_time = {(c.variant, c.fault): c.validity for c in sequential.verdict.cells}
    assert parallel == one_at_a_time
    assert "unknown" not in verdicts(cells).values()
    gates = [(g["variant"], g["fault"], g["passed"]) for g in document["gates"]]
    assert gates == [(g.variant, g.fault, g.passed) for g in sequential.gates]
    for cell in cells:
        if cell["fault"] == "crash":  # the planned kill landed with requests in flight, as one at a time
            (exposure,) = (check for check in cell["checks"] if check["checker"] == "exposure")
            assert exposure["numbers"]["crashes_made"] == exposure["numbers"]["crashes_planned"] == 1
            assert exposure["numbers"]["exposed_ops"] > 0
    # the two cells of each fault did run at once
    naive, idempotent = (op_span(run_dir / "cells" / f"{v}--crash") for v in ("naive", "idempotent"))
    assert naive[0] < idempotent[1] and idempotent[0] < naive[1]
