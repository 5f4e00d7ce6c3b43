"""The Markdown summaries: ``summary.md`` in the run folder, GitHub's job summary, a catalogue's summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.events import RunEvents
from harness.report.markdown import SUMMARY_NAME, append_step_summary, markdown_summary
from harness.result import RunResult


def summary_path(result: RunResult) -> Path:
    """Where a run's ``summary.md`` is."""
    return result.out_dir / SUMMARY_NAME


class MarkdownSummary:
    """Writes the run's Markdown table to ``summary.md``; later listeners may append sections to it."""

    def subscribe(self, events: RunEvents) -> None:
        events.run_finished.add_listener(self.run_finished)

    def run_finished(self, *, result: RunResult) -> None:
        summary_path(result).write_text(markdown_summary([result]), encoding="utf-8")


class StepSummary:
    """Appends ``summary.md``, as the listeners before it left it, to ``$GITHUB_STEP_SUMMARY`` if set."""

    def subscribe(self, events: RunEvents) -> None:
        events.run_finished.add_listener(self.run_finished)

    def run_finished(self, *, result: RunResult) -> None:
        append_step_summary(summary_path(result).read_text(encoding="utf-8"))


class CatalogueSummary:
    """Collects the results of a catalogue's runs; :meth:`finish` writes and prints their one summary.

    Subscribed to each run of the catalogue in turn, so the combined table has every scenario's cells.
    """

    def __init__(self, name: str, out_root: Path) -> None:
        self.name = name
        self.path = out_root / f"{name}-summary.md"
        self.results: list[RunResult] = []

    def subscribe(self, events: RunEvents) -> None:
        events.run_finished.add_listener(self.run_finished)

    def run_finished(self, *, result: RunResult) -> None:
        self.results.append(result)

    def finish(self, console: Console) -> Path:
        """Write ``<name>-summary.md``, append it to the job summary, and print one line per scenario."""
        markdown = markdown_summary(self.results, title=f"catalogue {self.name}")
        self.path.write_text(markdown, encoding="utf-8")
        append_step_summary(markdown)
        console.rule(f"catalogue {self.name}")
        for result in self.results:
            mark = "[green]✔ PASS[/green]" if result.passed else "[red]✘ FAIL[/red]"
            console.print(f"{mark} {result.scenario_name}: {result.out_dir}", highlight=False)
        console.print(f"summary: {self.path}", highlight=False)
        return self.path
