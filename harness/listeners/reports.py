"""The report files and the terminal summary, each a listener on ``run_finished``."""

from __future__ import annotations

from rich.console import Console

from harness.events import RunEvents
from harness.report import ReportWriter, print_summary, report_paths, write_report
from harness.result import RunResult


class ReportFile:
    """Writes one report format (``json``, ``html``, ``junit``) into the run folder."""

    def __init__(self, name: str, write: ReportWriter) -> None:
        self.name = name
        self.write = write

    def __repr__(self) -> str:
        return f"ReportFile({self.name})"

    def subscribe(self, events: RunEvents) -> None:
        events.run_finished.add_listener(self.run_finished)

    def run_finished(self, *, result: RunResult) -> None:
        write_report(result, self.name, self.write)


class TerminalSummary:
    """Prints the run's summary (cells, gates, a few duplicated operations, the report paths)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def subscribe(self, events: RunEvents) -> None:
        events.run_finished.add_listener(self.run_finished)

    def run_finished(self, *, result: RunResult) -> None:
        print_summary(result, self.console, report_paths(result.out_dir))
