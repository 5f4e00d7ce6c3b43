"""The baseline comparison as a reader sees it: a rich table in the terminal, a Markdown table for CI.

Columns: the cell, then each number a checker declares as compared with a baseline (a rate as the
baseline's value with its 95% interval and the value now; a count as ``baseline → now``), and the
verdict with the reasons of a regression.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from harness.baseline import CellComparison, compared_metrics
from harness.checkers.base import Metric
from harness.wording import cell_label, format_interval, format_number


def _headers() -> list[str]:
    headers = ["cell"]
    for metric in compared_metrics():
        if metric.baseline == "interval":
            headers += [f"baseline {metric.label} [95% CI]", "now"]
        else:
            headers.append(metric.label)
    return [*headers, "verdict"]


def _numbers(metric: Metric, comparison: CellComparison) -> list[str]:
    name, base, now = metric.name, comparison.baseline, comparison.current
    if metric.baseline == "interval":
        return [
            f"{format_number(name, base.number(name))} {format_interval(base.interval(name))}",
            format_number(name, now.number(name)),
        ]
    return [f"{format_number(name, base.number(name))} → {format_number(name, now.number(name))}"]


def _row(comparison: CellComparison) -> list[str]:
    verdict = "held" if comparison.passed else "REGRESSED: " + "; ".join(comparison.regressions)
    numbers = [text for metric in compared_metrics() for text in _numbers(metric, comparison)]
    return [cell_label(comparison.variant, comparison.fault), *numbers, verdict]


def baseline_table(comparisons: Sequence[CellComparison], title: str) -> Table:
    """A rich table, one row per compared cell; a regression's verdict in red."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for header in _headers():
        table.add_column(header, overflow="fold")
    for comparison in comparisons:
        *cells, verdict = _row(comparison)
        table.add_row(*cells, Text(verdict, style="green" if comparison.passed else "bold red"))
    return table


def baseline_markdown(comparisons: Sequence[CellComparison], title: str) -> str:
    """The same table in Markdown, with a heading line, for a CI job summary."""
    headers = _headers()
    alignment = ["---", *("---:" for _ in headers[1:-1]), "---"]
    lines = [f"**{title}**", "", "| " + " | ".join(headers) + " |", "| " + " | ".join(alignment) + " |"]
    for comparison in comparisons:
        lines.append("| " + " | ".join(_row(comparison)) + " |")
    return "\n".join(lines) + "\n"
