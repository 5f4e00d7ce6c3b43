"""A Markdown summary of one or more runs: for a CI job summary page, a pull request, or the README.

One row per scenario × variant × fault, with the duplicate rate and its 95% interval formatted as in
every other report, and whether that cell's gates held.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from harness.report.formatting import format_rate
from harness.result import RunResult

_HEADER = (
    "| scenario | variant | fault | ops | retries | duplicate rate [95% CI] | lost ack | gates |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
)


def _gates_of_cell(result: RunResult, variant: str, fault: str) -> str:
    gates = [gate for gate in result.gates if gate.variant == variant and gate.fault == fault]
    if not gates:
        return "–"
    return "✔" if all(gate.passed for gate in gates) else "✘ " + "; ".join(
        gate.message for gate in gates if not gate.passed
    )


def markdown_summary(results: Sequence[RunResult]) -> str:
    """The table, then one line per run with its verdict and where its report is."""
    lines = list(_HEADER)
    for result in results:
        for cell in result.verdict.cells:
            lines.append(
                f"| {result.scenario_name} | {cell.variant} | {cell.fault} | {cell.operations} "
                f"| {cell.retries} | {format_rate(cell)} | {cell.lost_acknowledged} "
                f"| {_gates_of_cell(result, cell.variant, cell.fault)} |"
            )
    lines.append("")
    for result in results:
        verdict = "PASS" if result.passed else "FAIL"
        lines.append(
            f"- **{result.scenario_name}**: {verdict}, seed {result.seed}, report `{result.out_dir}`"
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
