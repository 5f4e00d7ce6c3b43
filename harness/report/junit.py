"""junit.xml: each gate result as a test case, so any CI server shows which promise broke.

Layout (valid per the common JUnit schema used by Jenkins, GitLab and GitHub test reporters)::

    <testsuites name tests failures errors time>          (the schema allows no skipped here)
      <testsuite name="<scenario>" tests failures errors skipped time timestamp>
        <properties> seed, run_id, scenario path, runtime, proxy </properties>
        <testcase classname="<scenario>.<variant>" name="<fault>: <gate> <op> <threshold>" time>
          <failure message="..." type="GateFailed">details</failure>     only on a failed gate
                                                   (type "Inconclusive" on a cell that could not be judged)
          <system-out>the cell's validity, what its fault hit, how it was answered</system-out>
        </testcase>

A failure's details give the cell's numbers (counts, the rate and its 95% interval) and up to
:data:`OPERATIONS_SHOWN` of the operations behind the number, each with its attempts, so the CI page
alone says which operations to look up. A case's ``time`` is its cell's wall time shared evenly among
the cell's gates, so the cases of a run add up to the time its cells took.

A gate is a measurement, not a test that can crash, so ``errors`` and ``skipped`` are always 0: a cell
the checker could not judge fails its gates (see :mod:`harness.gate`) and shows up as a failure.

:func:`build_suite` writes that layout for any list of cases; ``harness conform`` uses it too.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.gate import format_threshold, gate_label
from harness.report.formatting import format_exposure, format_seconds, format_tally
from harness.report.gate_evidence import (
    anomalies_heading,
    gate_anomalies,
    gate_cell,
    gate_numbers,
    operation_line,
)
from harness.result import GateResult, RunResult
from harness.verdict import CellVerdict
from harness.wording import cell_label, stop_note

FAILURE_TYPE = "GateFailed"
INCONCLUSIVE_TYPE = "Inconclusive"
"""The failure type of a gate on a cell that could not be judged (a guard unmet, a checker broke)."""
INTERRUPTED_TYPE = "Interrupted"
"""The failure type of a gate on a cell the run did not finish, and of the interrupted run's own case."""
_FAILURE_TYPES = {"unknown": INCONCLUSIVE_TYPE, "interrupted": INTERRUPTED_TYPE}
OPERATIONS_SHOWN = 5
"""Operations told in a failure's details; the HTML report has them all."""


def testcase_name(gate: GateResult) -> str:
    """``dropped_response: max_duplicate_rate ≤ 1%``: the fault and the threshold checked on it."""
    return f"{gate.fault}: {gate_label(gate)}"


def _failure_details(result: RunResult, gate: GateResult) -> str:
    lines = [
        f"cell: {cell_label(gate.variant, gate.fault)}",
        f"gate: {gate_label(gate)}",
        f"actual: {format_threshold(gate.name, gate.actual)}",
        gate.message,
    ]
    cell = gate_cell(result, gate)
    if cell is not None:
        lines.append(f"numbers: {gate_numbers(cell, gate)}")
        anomalies = gate_anomalies(cell, gate)
        if anomalies:
            lines.append(anomalies_heading(anomalies, OPERATIONS_SHOWN))
            lines.extend(f"  {operation_line(anomaly)}" for anomaly in anomalies[:OPERATIONS_SHOWN])
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class JUnitFailure:
    message: str
    type: str
    details: str


@dataclass(frozen=True)
class JUnitCase:
    """One test case: passed, failed (``failure``) or skipped (``skipped`` names why)."""

    classname: str
    name: str
    failure: JUnitFailure | None = None
    skipped: str | None = None
    output: str | None = None
    """Shown as the case's ``<system-out>``: what a reader needs to see why (the cell's exposure)."""
    time_s: float = 0.0
    """The case's ``time`` attribute, in seconds."""


def build_suite(
    name: str,
    cases: Sequence[JUnitCase],
    properties: Sequence[tuple[str, str]],
    *,
    time: str = "0",
    timestamp: str | None = None,
) -> ET.ElementTree:
    """A ``<testsuites>`` holding one suite ``name`` with ``properties`` and ``cases``, counts included."""
    failures = sum(1 for case in cases if case.failure is not None)
    skipped = sum(1 for case in cases if case.failure is None and case.skipped is not None)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": "0", "time": time}
    root = ET.Element("testsuites", {"name": name, **counts})
    suite_attributes = {"name": name, **counts, "skipped": str(skipped)}
    if timestamp is not None:
        suite_attributes["timestamp"] = timestamp
    suite = ET.SubElement(root, "testsuite", suite_attributes)
    property_list = ET.SubElement(suite, "properties")
    for property_name, value in properties:
        ET.SubElement(property_list, "property", {"name": property_name, "value": value})
    for case in cases:
        attributes = {"classname": case.classname, "name": case.name, "time": f"{case.time_s:.3f}"}
        element = ET.SubElement(suite, "testcase", attributes)
        if case.failure is not None:
            failure_attributes = {"message": case.failure.message, "type": case.failure.type}
            failure = ET.SubElement(element, "failure", failure_attributes)
            failure.text = case.failure.details
        elif case.skipped is not None:
            ET.SubElement(element, "skipped", {"message": case.skipped})
        if case.output is not None:
            ET.SubElement(element, "system-out").text = case.output
    ET.indent(root)
    return ET.ElementTree(root)


def _gate_case(result: RunResult, gate: GateResult, gates_of_its_cell: int) -> JUnitCase:
    """A gate's case; its time is its cell's wall time over the cell's gates, as each gate of a cell
    took as long as checking all of them."""
    cell = gate_cell(result, gate)
    failure = None
    if not gate.passed:
        kind = _FAILURE_TYPES.get(_cell_state(cell) or "", FAILURE_TYPE)
        failure = JUnitFailure(gate.message, kind, _failure_details(result, gate))
    return JUnitCase(
        f"{result.scenario_name}.{gate.variant}",
        testcase_name(gate),
        failure,
        output=None if cell is None else _why(cell),
        time_s=0.0 if cell is None else cell.duration_s / gates_of_its_cell,
    )


def _cell_state(cell: CellVerdict | None) -> str | None:
    if cell is None:  # a gated variant without cells, or a gate on a cell this run did not make
        return None
    return "unknown" if cell.inconclusive and not cell.interrupted else cell.state


def _why(cell: CellVerdict) -> str:
    """The cell's state and wall time, what its fault hit, how its attempts were answered and its
    operations ended."""
    return (
        f"validity: {cell.state}{f' ({cell.error})' if cell.error else ''}\n"
        f"the cell ran: {format_seconds(cell.duration_s)}\n"
        f"the fault hit: {format_exposure(cell)}\n"
        f"attempts were answered: {format_tally(cell.answers, shown=8)}\n"
        f"operations ended: {format_tally(cell.final_outcomes, shown=8)}\n"
        f"run length: {stop_note(cell.stop) or 'the whole budget'}\n"
    )


def build_junit(result: RunResult) -> ET.ElementTree:
    """The junit.xml tree of a run: one suite for the scenario, one case per gate result."""
    timestamp = datetime.fromtimestamp(result.started_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")
    properties = (
        ("seed", str(result.seed)),
        ("run_id", result.run_id),
        ("scenario_path", result.scenario_path),
        ("runtime", result.runtime),
        ("proxy", result.proxy),
    )
    gates_per_cell = Counter((gate.variant, gate.fault) for gate in result.gates)  # once, not per gate
    cases = [_gate_case(result, gate, gates_per_cell[gate.variant, gate.fault]) for gate in result.gates]
    if result.interrupted:
        cases.append(_interrupted_case(result))
    return build_suite(
        result.scenario_name, cases, properties, time=f"{result.duration_s:.3f}", timestamp=timestamp
    )


def _interrupted_case(result: RunResult) -> JUnitCase:
    """A failing case of its own: an interrupted run fails CI even where no gate covers its cells."""
    unfinished = [cell_label(cell.variant, cell.fault) for cell in result.verdict.cells if cell.interrupted]
    message = (
        f"the run was interrupted: {len(unfinished)} of {len(result.verdict.cells)} cells did not finish"
    )
    details = "cells not finished: " + ", ".join(unfinished)
    return JUnitCase(
        result.scenario_name, "run interrupted", JUnitFailure(message, INTERRUPTED_TYPE, details)
    )


def write_junit(result: RunResult, path: Path) -> Path:
    """Write junit.xml to ``path`` (UTF-8, with an XML declaration) and return the path."""
    build_junit(result).write(path, encoding="utf-8", xml_declaration=True)
    return path
