"""A Markdown summary of one or more runs: for a CI job summary page, a pull request, or the README.

A heading with the scenario (or catalogue) and the overall verdict; one row per scenario × variant ×
fault, with the columns the checker modules declare (the duplicate rate and its 95% interval first)
formatted as in every other report, and whether that cell's gates held; each failed gate with a few of
the operations behind it; and where each run's HTML report is, *relative to the reports folder*: a CI
page shows this text far from the machine that ran, where an absolute local path means nothing, while
the reports folder is what a pipeline keeps as its artifact.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.checkers.base import Column
from harness.checkers.registry import columns
from harness.report.formatting import column_text, report_paths
from harness.report.gate_evidence import gate_anomalies, gate_cell
from harness.result import RunResult
from harness.wording import cell_label, stop_note

EXAMPLE_OPERATIONS = 2
"""Operations named under each failed gate; the report has them all."""
_MARKS = {"PASS": "✔", "FAIL": "✘", "INTERRUPTED": "⚠"}


def _header(shown: Sequence[Column]) -> tuple[str, str]:
    """The common columns, then each checker's column ``shown``, then the gates."""
    checker_headers = [column.header for column in shown]
    headers = ["scenario", "variant", "fault", "ops", "retries", *checker_headers, "gates"]
    alignment = ["---", "---", "---", "---:", "---:", *("---:" for _ in checker_headers), "---"]
    return "| " + " | ".join(headers) + " |", "| " + " | ".join(alignment) + " |"


def _gates_of_cell(result: RunResult, variant: str, fault: str) -> str:
    gates = [gate for gate in result.gates if gate.variant == variant and gate.fault == fault]
    if not gates:
        return "–"
    return (
        "✔"
        if all(gate.passed for gate in gates)
        else "✘ " + "; ".join(gate.message for gate in gates if not gate.passed)
    )


def overall_outcome(results: Sequence[RunResult]) -> str:
    """The word for several runs: ``INTERRUPTED`` if any was, else ``FAIL`` if any failed, else ``PASS``."""
    outcomes = {result.outcome for result in results}
    return next((word for word in ("INTERRUPTED", "FAIL") if word in outcomes), "PASS")


def _heading(results: Sequence[RunResult], title: str | None) -> str:
    """``## ✘ idempotency: payments — FAIL``."""
    outcome = overall_outcome(results)
    name = title or ", ".join(result.scenario_name for result in results)
    return f"## {_MARKS[outcome]} idempotency: {name} — {outcome}"


def _failed_gates(results: Sequence[RunResult]) -> list[str]:
    """One bullet per failed gate: its cell, its message, and the first operations behind it."""
    lines: list[str] = []
    for result in results:
        for gate in result.gates:
            if gate.passed:
                continue
            cell = gate_cell(result, gate)
            anomalies = () if cell is None else gate_anomalies(cell, gate)
            examples = ", ".join(f"`{anomaly.op_id}`" for anomaly in anomalies[:EXAMPLE_OPERATIONS])
            more = f" (of {len(anomalies)})" if len(anomalies) > EXAMPLE_OPERATIONS else ""
            where = cell_label(gate.variant, gate.fault)
            scenario = f"{result.scenario_name}: " if len(results) > 1 else ""
            line = f"- **{scenario}{where}**: {gate.message}"
            lines.append(line + (f"; e.g. {examples}{more}" if examples else ""))
    return ["", "**Failed gates**", "", *lines] if lines else []


def report_link(result: RunResult) -> str:
    """The run's HTML report relative to the reports folder: ``[`<run>/index.html`](<run>/index.html)``."""
    html = report_paths(result.out_dir)["html"]
    relative = f"{result.out_dir.name}/{html.name}"
    return f"[`{relative}`]({relative})"


def markdown_summary(results: Sequence[RunResult], title: str | None = None) -> str:
    """The heading, the table, the failed gates, then one line per run with its verdict and report.

    ``title`` names the heading (a catalogue's name); by default it is the runs' scenario names.
    """
    shown = columns(cell for result in results for cell in result.verdict.cells)
    lines = [_heading(results, title), "", *_header(shown)]
    for result in results:
        for cell in result.verdict.cells:
            numbers = [column_text(column, cell) for column in shown]
            ops = f"{cell.operations} ({stop_note(cell.stop)})" if cell.stop else str(cell.operations)
            row = [result.scenario_name, cell.variant, cell.fault, ops, str(cell.retries)]
            lines.append(
                "| " + " | ".join([*row, *numbers, _gates_of_cell(result, cell.variant, cell.fault)]) + " |"
            )
    lines.extend(_failed_gates(results))
    lines.extend(["", "Reports (in the reports folder, the pipeline's artifact):", ""])
    for result in results:
        lines.append(
            f"- **{result.scenario_name}**: {result.outcome}, seed {result.seed}, {report_link(result)}"
        )
    return "\n".join(lines) + "\n"


SUMMARY_NAME = "summary.md"
"""The Markdown summary's file name in a run folder."""

STEP_SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def append_step_summary(text: str, environ: Mapping[str, str] | None = None) -> Path | None:
    """Append ``text`` to the file ``$GITHUB_STEP_SUMMARY`` names (GitHub Actions' job summary page).

    Returns the file's path, or None when the variable is unset or empty (not on GitHub Actions).
    """
    name = (os.environ if environ is None else environ).get(STEP_SUMMARY_VARIABLE)
    if not name:
        return None
    path = Path(name)
    with path.open("a", encoding="utf-8") as summary:
        summary.write(text if text.endswith("\n") else text + "\n")
    return path
