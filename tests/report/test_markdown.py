"""The Markdown summary (summary.md, GitHub's job summary): what a reader of a CI page sees first."""

from __future__ import annotations

import dataclasses

from factories import cell_verdict

from harness.gate import evaluate_gates
from harness.report.markdown import markdown_summary
from harness.result import RunResult
from harness.scenario import GateSpec
from harness.verdict import RunVerdict


def regated(result: RunResult, **specs: GateSpec) -> RunResult:
    return dataclasses.replace(result, gates=evaluate_gates(specs, result.verdict))


def test_the_summary_opens_with_the_scenario_and_the_overall_verdict(run_result: RunResult) -> None:
    passing = regated(run_result, naive=GateSpec(min_duplicate_rate=0.01))

    assert markdown_summary([run_result]).splitlines()[:3] == [
        "## ✘ idempotency: payments-retries — FAIL",
        "",
        "| scenario | variant | fault | ops | retries | Exposed | Duplicates [95%] | Extra /1000 | Lost ack "
        "| Replay ≠ | gates |",
    ]
    assert markdown_summary([passing]).startswith("## ✔ idempotency: payments-retries — PASS\n")
    both = markdown_summary([passing, run_result], title="catalogue all")
    assert both.startswith("## ✘ idempotency: catalogue all — FAIL\n")
    interrupted = dataclasses.replace(passing, interrupted=True)
    assert markdown_summary([interrupted, run_result]).startswith(
        "## ⚠ idempotency: payments-retries, payments-retries — INTERRUPTED\n"
    )


def test_each_failed_gate_names_two_of_the_operations_behind_it(run_result: RunResult) -> None:
    cells = run_result.verdict.cells
    every_duplicate = tuple(a for cell in cells for a in cell.anomalies if a.kind == "duplicate_effect")
    crowded = cell_verdict(
        "naive", "crash", operations=40, ops_with_duplicates=4, anomalies=every_duplicate, validity="invalid"
    )
    result = dataclasses.replace(run_result, verdict=RunVerdict(cells=(cells[0], crowded, *cells[2:])))
    result = regated(
        result,
        naive=GateSpec(max_duplicate_rate=0.05),
        idempotent=GateSpec(min_duplicate_rate=0.5, max_lost_acknowledged=0),
    )

    text = markdown_summary([result])
    section = text.split("**Failed gates**\n\n")[1].split("\n\n")[0]

    assert section.splitlines() == [
        "- **naive × dropped_response**: max_duplicate_rate ≤ 5% failed (actual 12.5%); "
        "e.g. `op-naive-drop-0007`, `op-naive-drop-0019`",
        "- **naive × crash**: max_duplicate_rate ≤ 5% failed (actual 10%); "
        "e.g. `op-naive-drop-0007`, `op-naive-drop-0019` (of 4)",
        "- **idempotent × dropped_response**: min_duplicate_rate ≥ 50% failed (actual 0%): the harness was "
        "not sensitive enough to show duplicates for idempotent under dropped_response",
        "- **idempotent × crash**: min_duplicate_rate ≥ 50% failed (actual 2.5%): the harness was not "
        "sensitive enough to show duplicates for idempotent under crash",
    ]  # a min gate missed a number: it has no operations to show


def test_a_passing_run_has_no_failed_gates_section(run_result: RunResult) -> None:
    passing = regated(run_result, naive=GateSpec(min_duplicate_rate=0.01))
    assert "Failed gates" not in markdown_summary([passing])


def test_the_report_is_linked_relative_to_the_reports_folder(run_result: RunResult) -> None:
    text = markdown_summary([run_result])

    assert text.splitlines()[-1] == (
        "- **payments-retries**: FAIL, seed 7, [`run/index.html`](run/index.html)"
    )  # the run folder's name within the reports folder, which a pipeline keeps as its artifact
    assert str(run_result.out_dir.parent) not in text
