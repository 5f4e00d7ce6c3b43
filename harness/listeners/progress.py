"""Terminal progress while a run goes: the scenario's name, one rich bar per cell, the run's notes.

Cells that run at once (``parallel_cells``) each move their own bar: every hook names its cell.

Each row is the cell's name, its bar, its count and its time. In a narrow console rich would squeeze the
name first and keep the bar at full length, so the bar is given only what the longest name leaves: the
names stay whole on one line down to about 80 columns, and one too long even for that wraps.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from rich.cells import cell_len
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column

from harness.events import RunEvents
from harness.result import RunResult
from harness.scenario import Scenario
from harness.verdict import CellVerdict

BAR_WIDTH = 40
"""rich's own bar length, kept where the console is wide enough."""
MIN_BAR_WIDTH = 10
ELAPSED_WIDTH = len("0:00:00")
GAPS = 3
"""One space between each two of the four columns."""


class TerminalProgress:
    """Shows one progress bar per cell while its load runs; ``quiet`` shows no bars, only the lines.

    A context manager around ``Run.run``: the live display is started on entry and stopped on
    ``run_finished`` (so the summaries print below the finished bars) or, if the run fails, on exit.
    """

    def __init__(self, console: Console, quiet: bool = False) -> None:
        self._bar = Column(width=BAR_WIDTH)
        columns = (
            TextColumn("{task.description}", table_column=Column(overflow="fold")),
            BarColumn(bar_width=None, table_column=self._bar),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        self.progress = Progress(*columns, console=console, disable=quiet)
        self.tasks: dict[tuple[str, str], TaskID] = {}
        """Each cell's bar, by (variant, fault)."""
        self._live = False

    def __enter__(self) -> TerminalProgress:
        self.progress.start()
        self._live = True
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the live display, once (rich prints a line each time it stops outside a terminal)."""
        if self._live:
            self._live = False
            self.progress.stop()

    def subscribe(self, events: RunEvents) -> None:
        events.run_started.add_listener(self.run_started)
        events.note.add_listener(self.note)
        events.cell_started.add_listener(self.cell_started)
        events.cell_progress.add_listener(self.cell_progress)
        events.cell_checked.add_listener(self.cell_checked)
        events.run_finished.add_listener(self.run_finished)

    def run_started(self, *, run_id: str, scenario: Scenario, scenario_path: str, out_dir: Path) -> None:
        self.progress.console.print(f"[bold]{scenario.name}[/bold]: {scenario_path}", highlight=False)

    def note(self, *, message: str) -> None:
        self.progress.console.print(f"[dim]{message}[/dim]")

    def cell_started(self, *, variant: str, fault: str, operations: int) -> None:
        self.tasks[(variant, fault)] = self.progress.add_task(f"{variant} × {fault}", total=operations)
        self._fit_bar()

    def cell_progress(self, *, variant: str, fault: str, completed: int, total: int) -> None:
        task = self.tasks.get((variant, fault))
        if task is not None:
            self.progress.update(task, completed=completed, total=total)
            self._fit_bar()

    def cell_checked(self, *, verdict: CellVerdict) -> None:
        task = self.tasks.get((verdict.variant, verdict.fault))
        if task is not None:
            description = f"{verdict.variant} × {verdict.fault}: {verdict.ops_with_duplicates} duplicated"
            self.progress.update(task, description=description)
            self._fit_bar()

    def _fit_bar(self) -> None:
        """Make the bar as long as the console leaves beside the longest name and count, between
        :data:`MIN_BAR_WIDTH` and :data:`BAR_WIDTH`."""
        tasks = self.progress.tasks
        name = max(cell_len(task.description) for task in tasks)
        total = max(int(task.total or 0) for task in tasks)
        count = 2 * len(str(total)) + 1  # 150/150
        room = self.progress.console.width - name - count - ELAPSED_WIDTH - GAPS
        self._bar.width = max(MIN_BAR_WIDTH, min(BAR_WIDTH, room))

    def run_finished(self, *, result: RunResult) -> None:
        self.stop()
