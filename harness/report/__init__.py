"""The reports of a run: terminal summary, run.json, index.html and junit.xml.

One writer per format, each a listener on the finished :class:`~harness.result.RunResult`; this module is
the public surface, so callers never reach into a writer::

    paths = write_all(result)        # {"json": .../run.json, "html": .../index.html, "junit": .../junit.xml}
    print_summary(result, console)
"""

from __future__ import annotations

from pathlib import Path

from harness.report.formatting import report_paths
from harness.report.html import write_html
from harness.report.json_report import read_run_json, write_run_json
from harness.report.junit import write_junit
from harness.report.terminal import print_summary
from harness.result import RunResult

__all__ = ["print_summary", "read_run_json", "report_paths", "write_all"]


def write_all(result: RunResult) -> dict[str, Path]:
    """Write run.json, index.html and junit.xml into ``result.out_dir``; return their paths by format.

    run.json goes first: it is the evidence the others are views of, so it should exist even if a
    later writer fails.
    """
    result.out_dir.mkdir(parents=True, exist_ok=True)
    paths = report_paths(result.out_dir)
    write_run_json(result, paths["json"])
    write_html(result, paths["html"])
    write_junit(result, paths["junit"])
    return paths
