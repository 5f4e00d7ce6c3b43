"""A cell that stopped once its gates were decided says so, in the same words, in every report."""

from __future__ import annotations

import dataclasses
import json

from markupsafe import escape
from rich.console import Console

from harness.report import print_summary
from harness.report.html import render_html
from harness.report.json_report import render_run_json
from harness.report.junit import build_junit
from harness.report.markdown import markdown_summary
from harness.result import RunResult
from harness.verdict import RunVerdict, StopNote
from harness.wording import stop_note

NOTE = StopNote(212, "decided", ("duplicate rate 95% upper bound 1.4% < 2% over 212 exposed operations",))
WORDS = stop_note(NOTE)


def _stopped(run_result: RunResult) -> RunResult:
    first, *others = run_result.verdict.cells
    cells = (dataclasses.replace(first, stop=NOTE), *others)
    return dataclasses.replace(run_result, verdict=RunVerdict(cells))


def test_every_report_says_where_a_cell_stopped_early(run_result: RunResult) -> None:
    result = _stopped(run_result)
    console = Console(width=400, record=True, color_system=None)
    print_summary(result, console)
    assert WORDS in console.export_text()
    assert WORDS in markdown_summary([result])
    junit_outputs = [case.findtext("system-out") or "" for case in build_junit(result).iter("testcase")]
    assert any(WORDS in output for output in junit_outputs)
    assert str(escape(WORDS)) in render_html(result)
    document = json.loads(render_run_json(result))
    assert document["verdict"]["cells"][0]["stop"] == {
        "operations": 212, "reason": "decided", "bounds": list(NOTE.bounds)
    }  # fmt: skip
    assert document["verdict"]["cells"][1]["stop"] is None


def test_a_cell_that_ran_its_budget_has_no_note(run_result: RunResult) -> None:
    console = Console(width=400, record=True, color_system=None)
    print_summary(run_result, console)
    assert "stopped after" not in console.export_text()
    assert "stopped after" not in markdown_summary([run_result]) + render_html(run_result)
