"""junit.xml: each gate result as a test case, so any CI server shows which promise broke.

Layout (valid per the common JUnit schema used by Jenkins, GitLab and GitHub test reporters)::

    <testsuites name tests failures errors time>          (the schema allows no skipped here)
      <testsuite name="<scenario>" tests failures errors skipped time timestamp>
        <properties> seed, run_id, scenario path, runtime, proxy </properties>
        <testcase classname="<scenario>.<variant>" name="<fault>: <gate> <op> <threshold>" time>
          <failure message="..." type="GateFailed">details</failure>     only on a failed gate
        </testcase>

A gate is a measurement, not a test that can crash, so ``errors`` and ``skipped`` are always 0: a cell
the checker could not judge fails its gates (see :mod:`harness.gate`) and shows up as a failure.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from harness.gate import format_threshold, gate_label
from harness.report.formatting import cell_label
from harness.result import GateResult, RunResult

FAILURE_TYPE = "GateFailed"


def testcase_name(gate: GateResult) -> str:
    """``dropped_response: max_duplicate_rate ≤ 1%``: the fault and the threshold checked on it."""
    return f"{gate.fault}: {gate_label(gate)}"


def _failure_details(gate: GateResult) -> str:
    return (
        f"cell: {cell_label(gate.variant, gate.fault)}\n"
        f"gate: {gate_label(gate)}\n"
        f"actual: {format_threshold(gate.name, gate.actual)}\n"
        f"{gate.message}\n"
    )


def _testcase(parent: ET.Element, scenario: str, gate: GateResult) -> None:
    case = ET.SubElement(
        parent,
        "testcase",
        {"classname": f"{scenario}.{gate.variant}", "name": testcase_name(gate), "time": "0"},
    )
    if not gate.passed:
        failure = ET.SubElement(case, "failure", {"message": gate.message, "type": FAILURE_TYPE})
        failure.text = _failure_details(gate)


def build_junit(result: RunResult) -> ET.ElementTree:
    """The junit.xml tree of a run: one suite for the scenario, one case per gate result."""
    tests = str(len(result.gates))
    failures = str(sum(1 for gate in result.gates if not gate.passed))
    duration = f"{result.duration_s:.3f}"
    counts = {"tests": tests, "failures": failures, "errors": "0", "time": duration}
    root = ET.Element("testsuites", {"name": result.scenario_name, **counts})
    timestamp = datetime.fromtimestamp(result.started_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    suite_attributes = {"name": result.scenario_name, **counts, "skipped": "0", "timestamp": timestamp}
    suite = ET.SubElement(root, "testsuite", suite_attributes)
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("seed", str(result.seed)),
        ("run_id", result.run_id),
        ("scenario_path", result.scenario_path),
        ("runtime", result.runtime),
        ("proxy", result.proxy),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for gate in result.gates:
        _testcase(suite, result.scenario_name, gate)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(result: RunResult, path: Path) -> Path:
    """Write junit.xml to ``path`` (UTF-8, with an XML declaration) and return the path."""
    build_junit(result).write(path, encoding="utf-8", xml_declaration=True)
    return path
