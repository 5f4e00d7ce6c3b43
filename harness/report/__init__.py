"""The reports of a run: terminal summary, run.json, index.html and junit.xml.

One writer per format, in :data:`REPORT_WRITERS`; during a run each is a listener on the finished
:class:`~harness.result.RunResult` (:mod:`harness.listeners`). This module is the public surface, so
callers never reach into a writer::

    paths = write_all(result)        # {"json": .../run.json, "html": .../index.html, "junit": .../junit.xml}
    print_summary(result, console)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from harness.report.formatting import report_paths
from harness.report.html import write_html
from harness.report.json_report import read_run_json, write_run_json
from harness.report.junit import write_junit
from harness.report.terminal import print_summary
from harness.result import RunResult

__all__ = ["print_summary", "read_run_json", "report_paths", "write_all"]

ReportWriter = Callable[[RunResult, Path], Path]
"""Writes one format of a run's report to the path given; returns it."""

REPORT_WRITERS: tuple[tuple[str, ReportWriter], ...] = (
    ("json", write_run_json),
    ("html", write_html),
    ("junit", write_junit),
)
"""Every report format by its :func:`report_paths` name, in the order they are written.

run.json goes first: it is the evidence the others are views of, so it should exist even if a later
writer fails. A new format is one more entry here (and its file name in ``report_paths``).
"""


def write_report(result: RunResult, name: str, write: ReportWriter) -> Path:
    """Write the ``name`` report of ``result`` with ``write`` into ``result.out_dir``."""
    result.out_dir.mkdir(parents=True, exist_ok=True)
    return write(result, report_paths(result.out_dir)[name])


def write_all(result: RunResult) -> dict[str, Path]:
    """Write every report of :data:`REPORT_WRITERS` into ``result.out_dir``; return their paths by format."""
    return {name: write_report(result, name, write) for name, write in REPORT_WRITERS}
