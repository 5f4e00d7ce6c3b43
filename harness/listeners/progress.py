"""Terminal progress while a run goes: the scenario's name, one rich bar per cell, the run's notes."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from harness.events import RunEvents
from harness.result import RunResult
from harness.scenario import Scenario
from harness.verdict import CellVerdict


class TerminalProgress:
    """Shows one progress bar per cell while its load runs; ``quiet`` shows no bars, only the lines.

    A context manager around ``Run.run``: the live display is started on entry and stopped on
    ``run_finished`` (so the summaries print below the finished bars) or, if the run fails, on exit.
    """

    def __init__(self, console: Console, quiet: bool = False) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.progress = Progress(*columns, console=console, disable=quiet)
        self.task: TaskID | None = None
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
        self.task = self.progress.add_task(f"{variant} × {fault}", total=operations)

    def cell_progress(self, *, completed: int, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=completed, total=total)

    def cell_checked(self, *, verdict: CellVerdict) -> None:
        if self.task is not None:
            description = f"{verdict.variant} × {verdict.fault}: {verdict.ops_with_duplicates} duplicated"
            self.progress.update(self.task, description=description)

    def run_finished(self, *, result: RunResult) -> None:
        self.stop()
