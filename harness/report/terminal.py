"""The summary printed at the end of a run: what a person reads first, so nothing in it may be cut off.

Four blocks, most important first: the cells (variant × fault) with the duplicate rate and its 95%
interval, the gates, a few duplicated operations told as their attempts, and where the full reports
are. Zero duplicates are green and any duplicate is red, so the answer shows before it is read.

The cells are a table when it fits the console (about 100 columns); in a narrower one each cell is a
block of its own, its numbers packed into lines, since a squeezed table cuts numbers and names to
``idempot…`` and ``150/…``. Long lines wrap with their continuation indented instead of being cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from rich import box
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from harness.checkers.base import Column
from harness.checkers.registry import columns
from harness.report.formatting import (
    anomaly_story,
    column_alarm,
    column_text,
    column_unknown,
    format_exposure,
    format_seconds,
    format_tally,
    report_paths,
)
from harness.result import RunResult
from harness.verdict import Anomaly, CellVerdict
from harness.wording import cell_label, stop_note

EXAMPLES_SHOWN = 3
INDENT = "  "
"""Where the lines under a heading start."""
HANGING_INDENT = "    "
"""Where a wrapped line's continuation starts, so it does not read as a line of its own."""
FIGURE_SEPARATOR = " · "
UNBOUNDED_WIDTH = 10_000


def _headers(shown: Sequence[Column]) -> tuple[str, ...]:
    """The table's number columns, in order: the client's own counts, then the checkers' ``shown``."""
    return ("ops", "attempts", "retries", "ack/rej\n/unk", *(c.terminal_header for c in shown))


def _figures(cell: CellVerdict, shown: Sequence[Column]) -> tuple[str | Text, ...]:
    """A cell's numbers in the order of :func:`_headers`."""
    return (
        str(cell.operations),
        str(cell.attempts),
        str(cell.retries),
        f"{cell.acknowledged}/{cell.rejected}/{cell.unknown}",
        *(_checker_text(column, cell) for column in shown),
    )


def _title(result: RunResult) -> str:
    return f"{result.scenario_name}: run {result.run_id}"


def _cell_name(cell: CellVerdict) -> Text:
    """The variant × fault, yellow when its verdict is unknown (the reason is printed below the cells)."""
    return Text(cell_label(cell.variant, cell.fault), style="bold yellow" if cell.inconclusive else "bold")


def cells_table(result: RunResult) -> Table:
    """One row per variant × fault; the columns a reader needs to judge idempotency at a glance."""
    table = Table(
        title=_title(result),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 0),
    )
    table.add_column("variant", style="bold", no_wrap=True)
    table.add_column("fault", no_wrap=True)
    shown = columns(result.verdict.cells)
    for header in _headers(shown):
        table.add_column(header, justify="right", no_wrap=True)
    for cell in result.verdict.cells:
        # an unknown cell is flagged by colour only: a marker would widen the table
        fault = Text(cell.fault, style="bold yellow" if cell.inconclusive else "")
        table.add_row(cell.variant, fault, *_figures(cell, shown))
    return table


def table_fits(table: Table, console: Console) -> bool:
    """Whether ``table`` shows at its natural width, none of its columns squeezed."""
    unbounded = console.options.update_width(UNBOUNDED_WIDTH)  # measuring within the console clamps to it
    return Measurement.get(console, unbounded, table).maximum <= console.width


def _checker_text(column: Column, cell: CellVerdict) -> Text:
    """A checker's column: yellow when its checker is unknown (never green: nothing was judged), red
    when its alarm number is nonzero, green or dim when clean."""
    if column_unknown(column, cell):
        return Text(column_text(column, cell), style="bold yellow")
    clean_style = "green" if column.with_interval or column.bad_when else "dim"
    return Text(column_text(column, cell), style="bold red" if column_alarm(column, cell) else clean_style)


def _inline(header: str) -> str:
    """A two-line table header on one line: ``ack/rej`` over ``/unk`` → ``ack/rej/unk``, ``lost`` over
    ``ack`` → ``lost ack``."""
    return header.replace("\n/", "/").replace("\n", " ")


def _labelled_figures(cell: CellVerdict, shown: Sequence[Column]) -> list[Text]:
    """A cell's numbers each after its header: ``ops 40``, ``duplicates [95% CI] 12.5% [5.5–26.1]``."""
    return [
        Text.assemble((_inline(header), "dim"), " ", figure)
        for header, figure in zip(_headers(shown), _figures(cell, shown), strict=True)
    ]


def pack(widths: Sequence[int], width: int, gap: int = len(FIGURE_SEPARATOR)) -> list[slice]:
    """Split items as wide as ``widths`` into runs that each fit one line of ``width`` with ``gap``
    between items, never splitting an item (one wider than ``width`` gets a line of its own)."""
    runs: list[slice] = []
    start, used = 0, 0
    for index, item in enumerate(widths):
        if index > start and used + gap + item > width:
            runs.append(slice(start, index))
            start, used = index, item
        else:
            used = item if index == start else used + gap + item
    if widths:
        runs.append(slice(start, len(widths)))
    return runs


def _print_cell_blocks(result: RunResult, console: Console) -> None:
    """The narrow layout: each cell's name on a line, then its numbers as ``label value`` pairs, broken
    into lines at the same places for every cell so that the blocks compare line by line."""
    console.print(Text(_title(result), style="italic"), overflow="fold")
    cells = result.verdict.cells
    shown = columns(cells)
    pairs = [_labelled_figures(cell, shown) for cell in cells]
    figures = len(_headers(shown))
    widths = [max(row[index].cell_len for row in pairs) for index in range(figures)] if cells else []
    runs = pack(widths, console.width - len(INDENT))
    separator = Text.assemble((FIGURE_SEPARATOR, "dim"))  # as a base style, it would dim what it joins
    for cell, row in zip(cells, pairs, strict=True):
        console.print(_cell_name(cell), overflow="fold")
        for run in runs:
            console.print(Text(INDENT) + separator.join(row[run]), overflow="fold")


def print_hanging(console: Console, text: Text) -> None:
    """Print ``text`` after :data:`INDENT`, wrapped at the console's width with its continuation lines
    after :data:`HANGING_INDENT`: a long line stays whole and still reads as one item."""
    lines = text.wrap(console, max(console.width - len(HANGING_INDENT), 1), overflow="fold")
    for number, line in enumerate(lines):
        line.rstrip()
        console.print(Text(HANGING_INDENT if number else INDENT) + line, overflow="fold")


def _print_answers(result: RunResult, console: Console) -> None:
    """Why the numbers are what they are: what each cell's fault hit, and how its attempts were
    answered and its operations ended (two lines a cell)."""
    console.print("What the fault hit; how attempts were answered · how operations ended:", style="dim")
    for cell in result.verdict.cells:
        for text in (
            format_exposure(cell),
            f"{format_tally(cell.answers, 3)} · {format_tally(cell.final_outcomes, 2)}",
        ):
            print_hanging(console, Text.assemble((cell_label(cell.variant, cell.fault), "bold"), f": {text}"))


def _print_gates(result: RunResult, console: Console) -> None:
    if not result.gates:
        console.print("[dim]No gates in this scenario.[/dim]")
        return
    verdict = f"[bold {'green' if result.passed else 'red'}]{result.outcome}[/]"
    console.print(f"Gates: {verdict}")
    for gate in result.gates:
        mark = Text("✔ ", style="green") if gate.passed else Text("✘ ", style="bold red")
        line = Text.assemble(
            mark,
            (cell_label(gate.variant, gate.fault), "bold"),
            ": ",
            (gate.message, "" if gate.passed else "red"),
        )
        print_hanging(console, line)


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
        story = Text.assemble(
            (anomaly.op_id, "bold"),
            f" ({cell_label(cell.variant, cell.fault)}, {anomaly.effect_count} effects): ",
            anomaly_story(anomaly),
        )
        print_hanging(console, story)


def _print_cells(result: RunResult, console: Console) -> None:
    """The table of cells when it fits the console, else one block per cell; then why any is unknown."""
    table = cells_table(result)
    if table_fits(table, console):
        console.print(table)
    else:
        _print_cell_blocks(result, console)
    for cell in result.verdict.cells:
        if cell.inconclusive:
            # an interrupted cell's reason says it was interrupted
            reason = cell.error or "no reason given"
            prefix = "" if cell.interrupted else "inconclusive: "
            console.print(
                Text.assemble(
                    ("?", "bold yellow"), f" {cell_label(cell.variant, cell.fault)}: {prefix}{reason}"
                ),
                overflow="fold",
            )
    for cell in (cell for cell in result.verdict.cells if cell.stop):  # an early stop, and its bounds
        print_hanging(console, Text(f"{cell_label(cell.variant, cell.fault)}: {stop_note(cell.stop)}"))


def print_summary(result: RunResult, console: Console, paths: Mapping[str, Path] | None = None) -> None:
    """Print the whole summary; ``paths`` defaults to the standard report files in the run's folder."""
    _print_cells(result, console)
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
        print_hanging(console, Text.assemble(f"{name:<6}", (str(path), "cyan")))
