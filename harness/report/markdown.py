"""A Markdown summary of one or more runs: for a CI job summary page, a pull request, or the README.

One row per scenario × variant × fault, with the duplicate rate and its 95% interval formatted as in
every other report, and whether that cell's gates held.
"""

from __future__ import annotations

from collections.abc import Sequence

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
