"""The whole loop at small scale: real target processes, the embedded proxy, Locust, checker, reports."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from harness.cli import main
from harness.history import AttemptEnd, OpEnd, OpStart, read_history
from harness.result import RunResult
from harness.run import RunOptions, run_scenario
from harness.scenario import load_scenario

SCENARIO = Path(__file__).with_name("small_payments.yaml")
PARALLEL_FAULTS = ("dropped-responses", "crash")  # a toxic and the nemesis's kills and restarts


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    out = tmp_path_factory.mktemp("reports")
    return run_scenario(load_scenario(SCENARIO), str(SCENARIO), RunOptions(out_root=out))


@pytest.mark.parametrize("fault", ["dropped-responses", "latency", "crash"])
def test_naive_charges_twice_under_every_fault(result: RunResult, fault: str) -> None:
    cell = result.verdict.cell("naive", fault)
    assert_budget_run(cell.operations, fault)
    assert cell.ops_with_duplicates > 0, f"harness not sensitive: no duplicates under {fault}"
    assert cell.retries > 0
    assert cell.lost_acknowledged == 0
    duplicated = cell.anomalies[0]
    assert duplicated.kind == "duplicate_effect" and duplicated.effect_count >= 2
    assert len(duplicated.attempts) >= 2


@pytest.mark.parametrize("fault", ["dropped-responses", "latency", "crash"])
def test_idempotent_never_charges_twice(result: RunResult, fault: str) -> None:
    cell = result.verdict.cell("idempotent", fault)
    assert_budget_run(cell.operations, fault)
    assert cell.retries > 0, "the fault never made the client retry"
    assert cell.ops_with_duplicates == 0
    assert cell.lost_acknowledged == 0
    assert cell.replay_mismatches == 0
    assert cell.validity == "valid"


def test_crash_cell_records_crashes_and_restarts(result: RunResult) -> None:
    for variant in ("naive", "idempotent"):
        cell = result.verdict.cell(variant, "crash")
        assert cell.crashes >= 2  # one scheduled kill plus failpoint exits
        kinds = {type(event).__name__ for event in cell.fault_events}
        assert {"CrashEvent", "RestartEvent"} <= kinds


def test_gates_pass_and_evidence_is_on_disk(result: RunResult) -> None:
    assert result.passed, [gate.message for gate in result.gates if not gate.passed]
    cell_dir = result.out_dir / "cells" / "naive--dropped-responses"
    events = read_history([cell_dir / "history.jsonl"])
    assert sum(isinstance(event, AttemptEnd) for event in events) == result.verdict.cell(
        "naive", "dropped-responses"
    ).attempts
    effects = json.loads((cell_dir / "effects.json").read_text())
    assert len(effects) >= 40
    assert (cell_dir / "target.log").stat().st_size > 0


GATE_FAILS = """
name: naive-gate
seed: 4242
target: {name: payments, variants: [naive]}
load: {operations: 25, users: 4, retry: {max_attempts: 8, timeout_s: 0.5}}
faults:
  dropped-responses: {toxics: [{type: drop_response, toxicity: 0.4, attributes: {mode: close}}]}
gates:
  naive: {max_duplicate_rate: 0}
"""


def test_cli_exits_1_when_a_gate_fails_and_writes_every_report(tmp_path: Path) -> None:
    scenario = tmp_path / "gate.yaml"
    scenario.write_text(GATE_FAILS)
    status = main(["run", str(scenario), "--out", str(tmp_path / "reports"), "--quiet"])
    latest = tmp_path / "reports" / "latest"
    assert latest.is_symlink()
    run = json.loads((latest / "run.json").read_text())
    assert run["seed"] == 4242
    assert status == 1
    assert "<svg" in (latest / "index.html").read_text()
    root = ElementTree.parse(latest / "junit.xml").getroot()
    cases = list(root.iter("testcase"))
    assert len(cases) == 1
    assert cases[0].find("failure") is not None
    for report in ("run.json", "index.html", "junit.xml", "summary.md"):
        (latest / report).unlink()
    assert main(["report", str(latest)]) == 1  # the same gate fails on the same evidence
    rebuilt = json.loads((latest / "run.json").read_text())
    assert (rebuilt["verdict"], rebuilt["gates"]) == (run["verdict"], run["gates"])
    assert all((latest / name).is_file() for name in ("index.html", "junit.xml", "summary.md"))


def test_bad_scenario_exits_2_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntarget: {name: payments}\nfaults: {f: {toxics: [{type: x, stream: up}]}}\n")
    assert main(["run", str(bad), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "faults.f.toxics.0.type" in err and "Traceback" not in err


def assert_budget_run(operations: int, fault: str) -> None:
    """Every cell runs its 40 ops; a crash cell's load runs on past them until its kill is made."""
    assert operations >= 40 if fault == "crash" else operations == 40


def verdicts(cells: list[dict[str, object]]) -> dict[tuple[object, object], object]:
    return {(cell["variant"], cell["fault"]): cell["validity"] for cell in cells}


def op_span(cell_dir: Path) -> tuple[float, float]:
    """When the cell's first operation started and its last one ended."""
    events = read_history([cell_dir / "history.jsonl"])
    return (
        min(event.t for event in events if isinstance(event, OpStart)),
        max(event.t for event in events if isinstance(event, OpEnd)),
    )


def test_two_cells_at_once_reach_the_verdicts_of_one_at_a_time(result: RunResult, tmp_path: Path) -> None:
    """Cells at once, end to end: real targets, the embedded proxy and Locust, two cells at a time, reach
    the verdicts the module's run of one cell at a time reached for the same seed (a cell's fault
    decisions are seeded by the scenario's seed and the fault alone), and the planned kills still land."""
    faults = [argument for fault in PARALLEL_FAULTS for argument in ("--fault", fault)]
    out = tmp_path / "parallel"
    assert main(["run", str(SCENARIO), "--parallel", "2", *faults, "--out", str(out), "--quiet"]) == 0
    run_dir = (out / "latest").resolve()
    document = json.loads((run_dir / "run.json").read_text())
    sequential_cells = [cell for cell in result.verdict.cells if cell.fault in PARALLEL_FAULTS]
    sequential_gates = [gate for gate in result.gates if gate.fault in PARALLEL_FAULTS]

    cells = document["verdict"]["cells"]
    in_scenario_order = [(variant, fault) for fault in PARALLEL_FAULTS for variant in ("naive", "idempotent")]
    assert [(cell["variant"], cell["fault"]) for cell in cells] == in_scenario_order
    # naive × crash too: an operation the failpoint hit is retried into the restarted target, since a
    # refused connection waits at least half the backoff cap (the attempts outlast a restart)
    parallel = verdicts(cells)
    one_at_a_time = {(c.variant, c.fault): c.validity for c in sequential_cells}
    assert parallel == one_at_a_time
    assert "unknown" not in verdicts(cells).values()
    gates = [(g["variant"], g["fault"], g["passed"]) for g in document["gates"]]
    assert gates == [(g.variant, g.fault, g.passed) for g in sequential_gates]
    for cell in cells:
        if cell["fault"] == "crash":  # the planned kill landed with requests in flight, as one at a time
            (exposure,) = (check for check in cell["checks"] if check["checker"] == "exposure")
            assert exposure["numbers"]["crashes_made"] == exposure["numbers"]["crashes_planned"] == 1
            assert exposure["numbers"]["exposed_ops"] > 0
    # the two cells of each fault did run at once
    naive, idempotent = (op_span(run_dir / "cells" / f"{v}--crash") for v in ("naive", "idempotent"))
    assert naive[0] < idempotent[1] and idempotent[0] < naive[1]
