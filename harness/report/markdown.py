"""A Markdown summary of one or more runs: for a CI job summary page, a pull request, or the README.

One row per scenario × variant × fault, with the columns the checker modules declare (the duplicate rate
and its 95% interval first) formatted as in every other report, and whether that cell's gates held.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.checkers.registry import columns
from harness.report.formatting import column_text
from harness.result import RunResult
from harness.wording import stop_note


def _header() -> tuple[str, str]:
    """The common columns, then each checker's declared column, then the gates."""
    checker_headers = [column.header for column in columns()]
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


def markdown_summary(results: Sequence[RunResult]) -> str:
    """The table, then one line per run with its verdict and where its report is."""
    lines = list(_header())
    for result in results:
        for cell in result.verdict.cells:
            numbers = [column_text(column, cell) for column in columns()]
            ops = f"{cell.operations} ({stop_note(cell.stop)})" if cell.stop else str(cell.operations)
            row = [result.scenario_name, cell.variant, cell.fault, ops, str(cell.retries)]
            lines.append(
                "| " + " | ".join([*row, *numbers, _gates_of_cell(result, cell.variant, cell.fault)]) + " |"
            )
    lines.append("")
    for result in results:
        lines.append(
            f"- **{result.scenario_name}**: {result.outcome}, seed {result.seed}, report `{result.out_dir}`"
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
