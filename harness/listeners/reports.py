"""The report files and the terminal summary, each a listener on ``run_finished``."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from harness.events import RunEvents
from harness.report import ReportWriter, print_summary, report_paths, write_report
from harness.report.junit import write_junit
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


class JUnitAt:
    """Writes the run's junit.xml to a fixed path as well (``harness run --junit PATH``).

    A CI test report reads one file there; a glob over the run folders would also match ``latest``, the
    link to the same folder, and report every gate twice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def subscribe(self, events: RunEvents) -> None:
        events.run_finished.add_listener(self.run_finished)

    def run_finished(self, *, result: RunResult) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_junit(result, self.path)


class TerminalSummary:
    """Prints the run's summary (cells, gates, a few duplicated operations, the report paths)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def subscribe(self, events: RunEvents) -> None:
        events.run_finished.add_listener(self.run_finished)

    def run_finished(self, *, result: RunResult) -> None:
        print_summary(result, self.console, report_paths(result.out_dir))
