"""junit.xml: one test case per gate result, failures where gates failed, counts that agree."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.gate import evaluate_gates
from harness.report.junit import write_junit
from harness.result import RunResult
from harness.scenario import GateSpec
from harness.verdict import RunVerdict


def test_one_testcase_per_gate_and_one_failure(run_result: RunResult, tmp_path: Path) -> None:
    root = ET.parse(write_junit(run_result, tmp_path / "junit.xml")).getroot()

    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    assert len(cases) == 6
    assert len(suite.findall("testcase/failure")) == 1
    counts = {"tests": "6", "failures": "1", "errors": "0", "time": "21.500"}
    assert {key: root.get(key) for key in counts} == counts
    assert {key: suite.get(key) for key in (*counts, "skipped")} == {**counts, "skipped": "0"}
    assert root.get("skipped") is None
    assert suite.get("name") == "payments-retries"
    assert suite.get("timestamp") == "2025-06-15T15:06:40"


def test_testcase_names_say_cell_gate_and_threshold(run_result: RunResult, tmp_path: Path) -> None:
    suite = ET.parse(write_junit(run_result, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None

    names = [(case.get("classname"), case.get("name")) for case in suite.findall("testcase")]

    assert names == [
        ("payments-retries.naive", "dropped_response: min_duplicate_rate ≥ 1%"),
        ("payments-retries.naive", "crash: min_duplicate_rate ≥ 1%"),
        ("payments-retries.idempotent", "dropped_response: max_duplicate_rate ≤ 0%"),
        ("payments-retries.idempotent", "dropped_response: max_lost_acknowledged ≤ 0"),
        ("payments-retries.idempotent", "crash: max_duplicate_rate ≤ 0%"),
        ("payments-retries.idempotent", "crash: max_lost_acknowledged ≤ 0"),
    ]
    failed = [case for case in suite.findall("testcase") if case.find("failure") is not None]
    assert [case.get("name") for case in failed] == ["crash: max_duplicate_rate ≤ 0%"]
    failure = failed[0].find("failure")
    assert failure is not None
    assert failure.get("message") == "max_duplicate_rate ≤ 0% failed (actual 2.5%)"
    assert failure.get("type") == "GateFailed"
    assert "cell: idempotent × crash" in (failure.text or "")


def test_properties_carry_seed_and_run_id(run_result: RunResult, tmp_path: Path) -> None:
    suite = ET.parse(write_junit(run_result, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None
    children = [child.tag for child in suite]

    properties = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}

    assert children[0] == "properties"
    assert properties["seed"] == "7"
    assert properties["run_id"] == "run-20250615-150640-ab12"


def test_a_gate_on_an_inconclusive_cell_fails_as_inconclusive_and_every_case_says_why(
    run_result: RunResult, tmp_path: Path
) -> None:
    guard = "exposure: the fault hit 0 of 40 operations, fewer than min_exposed 1 (nothing fired)"
    unjudged = dataclasses.replace(run_result.verdict.cells[2], validity="unknown", error=guard)
    cells = run_result.verdict.cells
    verdict = RunVerdict(cells=(*cells[:2], unjudged, cells[3]))
    gates = evaluate_gates({"idempotent": GateSpec.model_validate({"max_duplicate_rate": 0})}, verdict)
    result = dataclasses.replace(run_result, verdict=verdict, gates=gates)

    suite = ET.parse(write_junit(result, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None
    failures = {case.get("name"): case.find("failure") for case in suite.findall("testcase")}
    inconclusive = failures["dropped_response: max_duplicate_rate ≤ 0%"]
    assert inconclusive is not None and inconclusive.get("type") == "Inconclusive"
    assert guard in (inconclusive.get("message") or "")
    regressed = failures["crash: max_duplicate_rate ≤ 0%"]
    assert regressed is not None and regressed.get("type") == "GateFailed"
    outputs = [case.findtext("system-out") or "" for case in suite.findall("testcase")]
    assert outputs[0].splitlines()[0] == f"validity: unknown ({guard})"
    assert all("attempts were answered:" in output and "the fault hit:" in output for output in outputs)
