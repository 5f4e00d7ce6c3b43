"""The benchmarks' shared way of showing results: a rich table for the terminal, the same table in
Markdown for ``reports/bench/*.md`` and the README, and the JSON and Markdown files side by side.

Each benchmark declares its columns once as ``(header, field, format)``; the first column names the row
and is left-aligned, every other one is a number and is right-aligned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from rich.table import Table

Column = tuple[str, str, str]
"""A table column: its header, the row's field it shows, and the format of that field's value."""


def row_cells(values: Mapping[str, object], columns: Sequence[Column]) -> list[str]:
    """One row's cells: each column's field of ``values`` in the column's format."""
    return [template.format(values[key]) for _, key, template in columns]


def rich_table(title: str, columns: Sequence[Column], rows: Iterable[Mapping[str, object]]) -> Table:
    """The table for the terminal."""
    table = Table(title=title)
    for number, (header, _, _) in enumerate(columns):
        table.add_column(header, justify="left" if number == 0 else "right")
    for values in rows:
        table.add_row(*row_cells(values, columns))
    return table


def markdown_table(columns: Sequence[Column], rows: Iterable[Mapping[str, object]]) -> list[str]:
    """The same table's Markdown lines."""
    lines = [
        "| " + " | ".join(header for header, _, _ in columns) + " |",
        "| " + " | ".join("---" if number == 0 else "---:" for number in range(len(columns))) + " |",
    ]
    return lines + ["| " + " | ".join(row_cells(values, columns)) + " |" for values in rows]


def machine_line(date: str, mode: str, machine: Mapping[str, object], what: str) -> str:
    """The line under a result's heading that says when, how and on what it was measured."""
    return (
        f"{date}, {mode} mode, {machine['cpu_count']} CPUs ({machine['cpu_model']}), "
        f"Python {machine['python']}, {what}."
    )


def notes_lines(notes: Sequence[str]) -> list[str]:
    """A result's notes as a Markdown list, or nothing."""
    return ["", "Notes:", "", *(f"- {note}" for note in notes)] if notes else []


def write_result(data: object, markdown: str, out: Path) -> Path:
    """Write ``data`` as JSON to ``out`` and ``markdown`` beside it; return the Markdown's path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=2) + "\n")
    path = out.with_suffix(".md")
    path.write_text(markdown)
    return path
