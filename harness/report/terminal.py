"""The summary printed at the end of a run: what a person reads first, so it must fit 100 columns.

Four blocks, most important first: the table of cells (variant × fault) with the duplicate rate and its
95% interval, the gates, a few duplicated operations told as their attempts, and where the full reports
are. Zero duplicates are green and any duplicate is red, so the answer shows before it is read.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.checkers.base import Column
from harness.checkers.registry import columns
from harness.report.formatting import (
    anomaly_story,
    column_alarm,
    column_text,
    format_exposure,
    format_seconds,
    format_tally,
    report_paths,
)
from harness.result import RunResult
from harness.verdict import Anomaly, CellVerdict
from harness.wording import cell_label, stop_note

EXAMPLES_SHOWN = 3


def cells_table(result: RunResult) -> Table:
    """One row per variant × fault; the columns a reader needs to judge idempotency at a glance.

    After the client's own counts come the columns the checker modules declare.
    """
    table = Table(
        title=f"{result.scenario_name}: run {result.run_id}",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0),
    )
    table.add_column("variant", style="bold", no_wrap=True)
    table.add_column("fault", no_wrap=True)
    headers = (
        "ops",
        "attempts",
        "retries",
        "ack/rej\n/unk",
        *(c.terminal_header for c in columns()),
    )
    for header in headers:
        table.add_column(header, justify="right", no_wrap=True)
    for cell in result.verdict.cells:
        table.add_row(*_row(cell))
    return table


def _checker_text(column: Column, cell: CellVerdict) -> Text:
    """A checker's column: red when its alarm number is nonzero, green or dim when clean."""
    clean_style = "green" if column.with_interval or column.bad_when else "dim"
    return Text(column_text(column, cell), style="bold red" if column_alarm(column, cell) else clean_style)


def _row(cell: CellVerdict) -> tuple[str | Text, ...]:
    # an unknown cell is flagged by colour only: a marker would widen the column past 100 characters,
    # and the reason is printed under the table
    fault = Text(cell.fault, style="bold yellow" if cell.inconclusive else "")
    return (
        cell.variant,
        fault,
        str(cell.operations),
        str(cell.attempts),
        str(cell.retries),
        f"{cell.acknowledged}/{cell.rejected}/{cell.unknown}",
        *(_checker_text(column, cell) for column in columns()),
    )


def _print_answers(result: RunResult, console: Console) -> None:
    """Why the numbers are what they are: what each cell's fault hit, and how its attempts were
    answered and its operations ended (two lines a cell)."""
    console.print("What the fault hit; how attempts were answered · how operations ended:", style="dim")
    for cell in result.verdict.cells:
        for text in (
            format_exposure(cell),
            f"{format_tally(cell.answers, 3)} · {format_tally(cell.final_outcomes, 2)}",
        ):
            console.print(
                Text.assemble("  ", (cell_label(cell.variant, cell.fault), "bold"), f": {text}"),
                no_wrap=True,
                overflow="ellipsis",
            )


def _print_gates(result: RunResult, console: Console) -> None:
    if not result.gates:
        console.print("[dim]No gates in this scenario.[/dim]")
        return
    verdict = f"[bold {'green' if result.passed else 'red'}]{result.outcome}[/]"
    console.print(f"Gates: {verdict}")
    for gate in result.gates:
        mark = Text("✔ ", style="green") if gate.passed else Text("✘ ", style="bold red")
        line = Text.assemble(
            "  ",
            mark,
            (cell_label(gate.variant, gate.fault), "bold"),
            ": ",
            (gate.message, "" if gate.passed else "red"),
        )
        console.print(line)


def example_duplicates(result: RunResult, limit: int = EXAMPLES_SHOWN) -> list[tuple[CellVerdict, Anomaly]]:
    """Up to ``limit`` duplicated operations, taken from the cells in order."""
    examples: list[tuple[CellVerdict, Anomaly]] = []
    for cell in result.verdict.cells:
        for anomaly in cell.anomalies:
            if anomaly.kind == "duplicate_effect":
                examples.append((cell, anomaly))
                if len(examples) == limit:
                    return examples
    return examples


def _print_examples(result: RunResult, console: Console) -> None:
    examples = example_duplicates(result)
    if not examples:
        return
    console.print("Example duplicated operations:")
    for cell, anomaly in examples:
        console.print(
            Text.assemble(
                "  ",
                (anomaly.op_id, "bold"),
                f" ({cell_label(cell.variant, cell.fault)}, {anomaly.effect_count} effects): ",
                anomaly_story(anomaly),
            ),
            no_wrap=True,
            overflow="ellipsis",
        )


def print_summary(result: RunResult, console: Console, paths: Mapping[str, Path] | None = None) -> None:
    """Print the whole summary; ``paths`` defaults to the standard report files in the run's folder."""
    console.print(cells_table(result))
    for cell in result.verdict.cells:
        if cell.inconclusive:
            # an interrupted cell's reason says it was interrupted
            reason = cell.error or "no reason given"
            prefix = "" if cell.interrupted else "inconclusive: "
            console.print(
                f"[bold yellow]?[/bold yellow] {cell_label(cell.variant, cell.fault)}: {prefix}{reason}",
                highlight=False,
            )
    for cell in (cell for cell in result.verdict.cells if cell.stop):  # an early stop, and its bounds
        console.print(f"  {cell_label(cell.variant, cell.fault)}: {stop_note(cell.stop)}", markup=False)
    _print_answers(result, console)
    console.print()
    _print_gates(result, console)
    if example_duplicates(result):
        console.print()
    _print_examples(result, console)
    console.print()
    shown = dict(paths) if paths is not None else report_paths(result.out_dir)
    console.print(f"Run took {format_seconds(result.duration_s)}. Reports:")
    for name, path in shown.items():
        console.print(Text.assemble(f"  {name:<6}", (str(path), "cyan")))
