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


def with_durations(result: RunResult, *seconds: float) -> RunResult:
    cells = tuple(
        dataclasses.replace(cell, duration_s=taken)
        for cell, taken in zip(result.verdict.cells, seconds, strict=True)
    )
    return dataclasses.replace(result, verdict=RunVerdict(cells=cells))


def test_each_case_takes_its_share_of_its_cells_wall_time(run_result: RunResult, tmp_path: Path) -> None:
    timed = with_durations(run_result, 4.0, 5.0, 6.0, 7.5)
    suite = ET.parse(write_junit(timed, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None

    times = [(case.get("name"), case.get("time")) for case in suite.findall("testcase")]

    assert times == [  # naive: one gate per cell; idempotent: two per cell, sharing its time
        ("dropped_response: min_duplicate_rate ≥ 1%", "4.000"),
        ("crash: min_duplicate_rate ≥ 1%", "5.000"),
        ("dropped_response: max_duplicate_rate ≤ 0%", "3.000"),
        ("dropped_response: max_lost_acknowledged ≤ 0", "3.000"),
        ("crash: max_duplicate_rate ≤ 0%", "3.750"),
        ("crash: max_lost_acknowledged ≤ 0", "3.750"),
    ]
    outputs = [case.findtext("system-out") or "" for case in suite.findall("testcase")]
    assert outputs[0].splitlines()[1] == "the cell ran: 4.00 s"


def test_a_failure_gives_the_numbers_and_the_operations_behind_them(
    run_result: RunResult, tmp_path: Path
) -> None:
    suite = ET.parse(write_junit(run_result, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None

    [failure] = suite.findall("testcase/failure")

    assert (failure.text or "").splitlines()[4:] == [
        "numbers: 40 operations, 45 attempts, 5 retries; duplicated operations 1, duplicate rate 2.5% "
        "[0.4–12.8], extra effects 1, extra effects per 1,000 operations 25.0",
        "operations that took effect more than once (1 of 1 shown):",
        "  op-idem-crash-0011: 2 effects; #1 info timeout (1.00 s) → #2 ok 201 (42 ms)",
    ]


def test_a_failure_shows_at_most_five_operations(run_result: RunResult, tmp_path: Path) -> None:
    gates = {"naive": GateSpec(max_duplicate_rate=0)}
    [naive_drop, *others] = run_result.verdict.cells
    first = naive_drop.anomalies[0]
    many = tuple(dataclasses.replace(first, op_id=f"op-naive-drop-{index:04d}") for index in range(7))
    checks = tuple(
        dataclasses.replace(check, anomalies=many) if check.checker == "duplicate_effects" else check
        for check in naive_drop.checks
    )
    crowded = dataclasses.replace(naive_drop, checks=checks)
    verdict = RunVerdict(cells=(crowded, *others))
    result = dataclasses.replace(run_result, verdict=verdict, gates=evaluate_gates(gates, verdict))

    suite = ET.parse(write_junit(result, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert suite is not None
    text = suite.findall("testcase/failure")[0].text or ""

    assert "operations that took effect more than once (5 of 7 shown):" in text
    shown = [line.split(":")[0].strip() for line in text.splitlines() if line.startswith("  op-")]
    assert shown == [f"op-naive-drop-{index:04d}" for index in range(5)]
