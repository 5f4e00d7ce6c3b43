"""Listeners on a run's events: terminal progress and summary, report files, Markdown summaries, the
baseline gate. Each is a small class with ``subscribe(events)``; :func:`subscribe_listeners` is the one
place that adds them to a run, in the order they must hear ``run_finished``.
"""

from __future__ import annotations

from typing import Protocol

from rich.console import Console

from harness.events import RunEvents
from harness.listeners.baseline import BaselineGate
from harness.listeners.markdown import CatalogueSummary, MarkdownSummary, StepSummary
from harness.listeners.metrics import LiveMetrics
from harness.listeners.progress import TerminalProgress
from harness.listeners.reports import JUnitAt, ReportFile, TerminalSummary
from harness.report import REPORT_WRITERS

__all__ = [
    "BaselineGate",
    "CatalogueSummary",
    "JUnitAt",
    "Listener",
    "LiveMetrics",
    "ReportFile",
    "TerminalProgress",
    "subscribe_listeners",
]


class Listener(Protocol):
    """Something that hears a run: it adds its methods to the hooks it cares about."""

    def subscribe(self, events: RunEvents) -> None: ...


def subscribe_listeners(
    events: RunEvents,
    *,
    progress: TerminalProgress | None = None,
    console: Console | None = None,
    baseline: BaselineGate | None = None,
    junit: JUnitAt | None = None,
    summary_md: bool = True,
    step_summary: bool = False,
    catalogue: CatalogueSummary | None = None,
    metrics: LiveMetrics | None = None,
) -> list[Listener]:
    """Subscribe the listeners a face asks for to ``events``, in this order; returns them in that order.

    1. ``progress``: stops its live bars first, so everything after prints below them; ``metrics``:
       the live series of ``--metrics-port`` (it writes nothing, so its place matters little);
    2. one :class:`ReportFile` per format of :data:`~harness.report.REPORT_WRITERS`, run.json first,
       and ``junit``: a copy of junit.xml at a fixed path;
    3. the terminal summary on ``console`` (None: print nothing);
    4. ``summary.md`` (``summary_md``);
    5. ``baseline``: its gates are added on ``run_checked``, before any of the above writes (the run
       fires ``run_checked`` before ``run_finished``); on ``run_finished`` its table prints after the
       summary and its section is appended to ``summary.md``;
    6. ``$GITHUB_STEP_SUMMARY`` (``step_summary``): a copy of ``summary.md``, baseline section included;
    7. ``catalogue``: collects the result for the catalogue's combined summary.
    """
    chosen: list[Listener | None] = [
        progress,
        metrics,
        *(ReportFile(name, write) for name, write in REPORT_WRITERS),
        junit,
        TerminalSummary(console) if console is not None else None,
        MarkdownSummary() if summary_md else None,
        baseline,
        StepSummary() if step_summary else None,
        catalogue,
    ]
    listeners = [listener for listener in chosen if listener is not None]
    for listener in listeners:
        listener.subscribe(events)
    return listeners
