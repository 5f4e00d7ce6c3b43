"""The baseline gate as a listener (``harness run --baseline``), and as a command (``harness gate``).

During a run: the baseline's run.json is read and matched against the cells the run will make before it
starts (a mismatch fails in a second, before any target starts), compared with the run on
``run_checked`` (one gate per cell, added to the result before any report is written), and shown on
``run_finished``: its table in the terminal after the summary, its Markdown section appended to
``summary.md``. The comparison itself is :mod:`harness.baseline`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.baseline import CellComparison, baseline_gates, compare_runs, require_same_cells
from harness.errors import EXIT_GATE_FAILED, EXIT_OK
from harness.events import RunEvents
from harness.listeners.markdown import summary_path
from harness.report import read_run_json
from harness.report.baseline_view import baseline_markdown, baseline_table
from harness.report.json_report import run_document
from harness.report.markdown import append_step_summary
from harness.result import GateResult, RunResult
from harness.scenario import Scenario


def run_json_path(path: Path) -> Path:
    """A run folder stands for its run.json."""
    return path / "run.json" if path.is_dir() else path


class BaselineGate:
    """This run's cells against ``baseline`` (a run.json document read from ``path``)."""

    def __init__(self, baseline: dict[str, Any], path: Path, console: Console | None = None) -> None:
        self.baseline = baseline
        self.path = path
        self.console = console
        self.comparisons: tuple[CellComparison, ...] = ()

    @classmethod
    def load(
        cls, path: Path, scenario: Scenario, faults: Sequence[str] = (), console: Console | None = None
    ) -> BaselineGate:
        """Read ``path`` (a run.json or its folder) and match it against the cells the run will make.

        Raises :class:`~harness.errors.HarnessError` when they differ, before anything has run.
        """
        baseline = read_run_json(run_json_path(path))
        require_same_cells(baseline, scenario.name, scenario.cells(faults), str(path))
        return cls(baseline, path, console)

    def subscribe(self, events: RunEvents) -> None:
        events.run_checked.add_listener(self.run_checked)
        events.run_finished.add_listener(self.run_finished)

    def run_checked(self, *, result: RunResult, add_gates: Callable[[Iterable[GateResult]], None]) -> None:
        self.comparisons = compare_runs(
            run_document(result), self.baseline, str(result.out_dir), str(self.path)
        )
        add_gates(baseline_gates(self.comparisons))

    def run_finished(self, *, result: RunResult) -> None:
        title = f"{result.scenario_name} against the baseline {self.path}"
        if self.console is not None:
            self.console.print(baseline_table(self.comparisons, title))
        with summary_path(result).open("a", encoding="utf-8") as summary:
            summary.write("\n" + baseline_markdown(self.comparisons, title))


def compare_run_files(run: Path, baseline: Path, console: Console) -> int:
    """``harness gate``: a finished run against a baseline run; prints the table, returns the exit status."""
    current_path, baseline_path = run_json_path(run), run_json_path(baseline)
    current, base = read_run_json(current_path), read_run_json(baseline_path)
    comparisons = compare_runs(current, base, str(current_path), str(baseline_path))
    title = f"{current.get('scenario_name')}: {current_path} against the baseline {baseline_path}"
    console.print(baseline_table(comparisons, title))
    append_step_summary(baseline_markdown(comparisons, title))
    failed = [comparison for comparison in comparisons if not comparison.passed]
    if failed:
        console.print(f"[red]✘ {len(failed)} of {len(comparisons)} cells regressed[/red]", highlight=False)
        return EXIT_GATE_FAILED
    console.print(f"[green]✔ no regression in {len(comparisons)} cells[/green]", highlight=False)
    return EXIT_OK
