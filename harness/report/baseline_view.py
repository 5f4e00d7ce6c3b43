"""The baseline comparison as a reader sees it: a rich table in the terminal, a Markdown table for CI.

Columns: cell, the baseline's duplicate rate with its 95% interval, the rate now, lost acknowledged and
replay mismatches (baseline → now), and the verdict with the reasons of a regression.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.table import Table
from rich.text import Text

from harness.baseline import CellComparison
from harness.report.formatting import cell_label, format_interval, format_percent

COLUMNS = ("cell", "baseline [95% CI]", "now", "lost ack", "replay mismatches", "verdict")


def _row(comparison: CellComparison) -> tuple[str, ...]:
    base, now = comparison.baseline, comparison.current
    verdict = "held" if comparison.passed else "REGRESSED: " + "; ".join(comparison.regressions)
    return (
        cell_label(comparison.variant, comparison.fault),
        f"{format_percent(base.duplicate_rate)} {format_interval(base.interval)}",
        format_percent(now.duplicate_rate),
        f"{base.lost_acknowledged} → {now.lost_acknowledged}",
        f"{base.replay_mismatches} → {now.replay_mismatches}",
        verdict,
    )


def baseline_table(comparisons: Sequence[CellComparison], title: str) -> Table:
    """A rich table, one row per compared cell; a regression's verdict in red."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column in COLUMNS:
        table.add_column(column, overflow="fold")
    for comparison in comparisons:
        *cells, verdict = _row(comparison)
        table.add_row(*cells, Text(verdict, style="green" if comparison.passed else "bold red"))
    return table


def baseline_markdown(comparisons: Sequence[CellComparison], title: str) -> str:
    """The same table in Markdown, with a heading line, for a CI job summary."""
    header = "| " + " | ".join(COLUMNS) + " |"
    lines = [f"**{title}**", "", header, "| --- | ---: | ---: | ---: | ---: | --- |"]
    for comparison in comparisons:
        lines.append("| " + " | ".join(_row(comparison)) + " |")
    return "\n".join(lines) + "\n"
