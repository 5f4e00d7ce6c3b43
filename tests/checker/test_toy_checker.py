"""A checker is one module: register a toy one and see it in every output, with nothing else touched.

The toy flags operations that had an attempt slower than one second. Registered for one test, it must
show in the verdict, be a gate a scenario may set, fail that gate, appear in run.json, the terminal
table, the HTML page, the Markdown summary and JUnit, be compared with a baseline, and explain a
failed assertion in the pytest plugin; unregistered, it is gone (a scenario naming its gate is refused).
"""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import run_result
from rich.console import Console

from harness.baseline import compare_runs
from harness.checker import check
from harness.checkers import AnomalyDeclaration, CellEvidence, Column, GateRule, Metric, registered
from harness.checkers.story import attempts_story
from harness.gate import evaluate_gates
from harness.history import AttemptEnd, AttemptStart, Event, OpEnd, OpStart
from harness.ledger import Effect
from harness.pytest_plugin import AnomalyCount, VariantOutcome, evidence_lines
from harness.report import print_summary, write_all
from harness.report.json_report import run_document
from harness.report.markdown import markdown_summary
from harness.result import RunResult
from harness.scenario import GateSpec
from harness.verdict import CheckResult, RunVerdict

SLOW_S = 1.0


class SlowAttempts:
    """Operations with an attempt slower than a second: a metric nobody built the harness for."""

    name = "toy_slow_attempts"
    order = 99
    metrics = (
        Metric("slow_attempts", "count", "slow attempts", baseline="rise", anomaly_kind="slow_attempt"),
    )
    gates = (GateRule("max_slow_attempts", "slow_attempts", "max"),)
    columns = (Column("Slow ops", "slow\nops", "slow_attempts"),)
    anomaly = AnomalyDeclaration("slow_attempt", "Slow attempts", "had an attempt slower than a second")

    def check(self, evidence: CellEvidence) -> CheckResult:
        flagged = [
            trace
            for trace in evidence.ops.values()
            if any(attempt.latency_s > SLOW_S for attempt in trace.attempt_ends)
        ]
        return CheckResult(
            checker=self.name,
            validity="invalid" if flagged else "valid",
            numbers={"slow_attempts": len(flagged)},
            anomalies=evidence.anomalies("slow_attempt", flagged, lambda trace, _: attempts_story(trace)),
        )


def _operation(op_id: str, t: float, latency_s: float) -> list[Event]:
    return [
        OpStart(t=t, op_id=op_id),
        AttemptStart(t=t, op_id=op_id, attempt=1),
        AttemptEnd(t=t + latency_s, op_id=op_id, attempt=1, outcome="ok", status=201, latency_s=latency_s),
        OpEnd(t=t + latency_s, op_id=op_id, outcome="acknowledged", attempts=1, status=201),
    ]


EVENTS = [*_operation("op-fast", 0.0, 0.05), *_operation("op-slow", 1.0, 2.5)]
EFFECTS = [Effect("op-fast", "ch_1"), Effect("op-slow", "ch_2")]


@pytest.fixture
def toy() -> Iterator[SlowAttempts]:
    with registered(SlowAttempts()) as checker:
        yield checker  # type: ignore[misc]


def _result(tmp_path: Path) -> RunResult:
    cell = check(EVENTS, EFFECTS, variant="idempotent", fault="latency")
    verdict = RunVerdict(cells=(cell,))
    gates = {"idempotent": GateSpec.model_validate({"max_slow_attempts": 0, "max_duplicate_rate": 0})}
    return run_result(
        verdict,
        evaluate_gates(gates, verdict),
        tmp_path / "run",
        scenario_name="toy",
        variants=("idempotent",),
        faults=("latency",),
    )


def test_the_verdict_holds_its_numbers_and_anomalies(toy: SlowAttempts) -> None:
    cell = check(EVENTS, EFFECTS, variant="idempotent", fault="latency")
    result = cell.check(toy.name)
    assert result is not None and result.numbers == {"slow_attempts": 1}
    assert cell.number("slow_attempts") == 1 and cell.slow_attempts == 1
    assert [a.op_id for a in cell.anomalies if a.kind == "slow_attempt"] == ["op-slow"]
    assert cell.validity == "invalid"  # the toy's invalid beats the others' valid


def test_its_gate_is_set_by_a_scenario_and_fails(toy: SlowAttempts, tmp_path: Path) -> None:
    gates = _result(tmp_path).gates
    assert [(g.name, g.passed) for g in gates] == [("max_duplicate_rate", True), ("max_slow_attempts", False)]
    assert gates[1].message == "max_slow_attempts ≤ 0 failed (actual 1)"


def test_it_shows_in_every_report(toy: SlowAttempts, tmp_path: Path) -> None:
    result = _result(tmp_path)
    paths = write_all(result)

    document = json.loads(paths["json"].read_text())
    checks = document["verdict"]["cells"][0]["checks"]
    assert {"checker": toy.name, "numbers": {"slow_attempts": 1}}.items() <= checks[-1].items()
    assert "Slow ops" in paths["html"].read_text() and "slow_attempt" in paths["html"].read_text()
    junit = ET.parse(paths["junit"]).getroot()
    failed = [case.get("name") for case in junit.iter("testcase") if case.find("failure") is not None]
    assert failed == ["latency: max_slow_attempts ≤ 0"]
    assert "| Slow ops |" in markdown_summary([result])

    console = Console(record=True, width=100)
    print_summary(result, console)
    header_top, header_bottom, _, row = console.export_text().splitlines()[1:5]
    assert header_top.split()[-1] == "slow" and header_bottom.split()[-2:] == ["≠", "ops"]
    assert row.split()[-2:] == ["0", "1"]  # no replay mismatch, one slow operation


def test_a_baseline_compares_it(toy: SlowAttempts, tmp_path: Path) -> None:
    now = run_document(_result(tmp_path))
    before = copy.deepcopy(now)
    assert all(comparison.passed for comparison in compare_runs(now, before))
    before["verdict"]["cells"][0]["checks"][-1]["numbers"]["slow_attempts"] = 0
    (comparison,) = compare_runs(now, before)
    assert comparison.regressions == ("slow attempts rose from 0 to 1",)


def test_the_pytest_plugin_explains_it(toy: SlowAttempts, tmp_path: Path) -> None:
    outcome = VariantOutcome("idempotent", _result(tmp_path).verdict.cells, tmp_path / "index.html")
    count = outcome.slow_attempts
    assert isinstance(count, AnomalyCount) and count == 1
    lines = evidence_lines(outcome, "slow_attempt")
    assert lines[0] == "idempotent: 1 of 2 operations had an attempt slower than a second"
    assert lines[1].startswith("  latency: op-slow (1 effects): 1 attempt: attempt 1 → 201")


def test_unregistered_it_is_gone() -> None:
    with registered(SlowAttempts()):
        pass
    cell = check(EVENTS, EFFECTS, variant="idempotent", fault="latency")
    assert cell.check("toy_slow_attempts") is None
    with pytest.raises(ValueError, match="max_slow_attempts: no such gate"):
        GateSpec.model_validate({"max_slow_attempts": 0})
