"""The terminal summary: fits 100 columns, shows every cell, the intervals, gates, examples and paths."""

from __future__ import annotations

import dataclasses
import re

from rich.console import Console

from harness.report import print_summary
from harness.result import RunResult
from harness.verdict import RunVerdict


def _render(result: RunResult, width: int = 100) -> str:
    console = Console(width=width, record=True, color_system=None)
    print_summary(result, console)
    return console.export_text()


def test_every_cell_is_one_row_with_its_counts_and_interval(run_result: RunResult) -> None:
    lines = _render(run_result).splitlines()

    rows = [line.split() for line in lines if line.startswith(("naive ", "idempotent "))]
    assert [row[:2] for row in rows] == [
        ["naive", "dropped_response"],
        ["naive", "crash"],
        ["idempotent", "dropped_response"],
        ["idempotent", "crash"],
    ]
    # ops, attempts, retries, ack/rej/unk, exposed, rate, [interval], extra/1000, lost ack, replay ≠
    assert rows[0][2:] == ["40", "52", "12", "36/1/3", "12", "12.5%", "[5.5–26.1]", "150.0", "0", "0"]
    assert rows[1][2:] == ["40", "47", "7", "37/0/3", "9", "5.0%", "[1.4–16.5]", "50.0", "1", "0"]
    assert rows[2][2:] == ["40", "51", "11", "39/1/0", "11", "0.0%", "[0.0–8.8]", "0.0", "0", "0"]
    assert rows[3][2:] == ["40", "45", "5", "38/0/2", "7", "2.5%", "[0.4–12.8]", "25.0", "0", "2"]


def test_fits_100_columns(run_result: RunResult) -> None:
    text = _render(run_result)

    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
    assert "…" not in text.split("Example duplicated operations:")[0]


def test_gates_are_marked(run_result: RunResult) -> None:
    text = _render(run_result)

    assert "Gates: FAIL" in text
    assert text.count("✔ ") == 5
    assert "✘ idempotent × crash: max_duplicate_rate ≤ 0% failed (actual 2.5%)" in text
    assert "✔ naive × dropped_response: min_duplicate_rate ≥ 1% held (actual 12.5%)" in text


def test_three_examples_one_line_each(run_result: RunResult) -> None:
    lines = _render(run_result).splitlines()

    start = lines.index("Example duplicated operations:")
    examples = lines[start + 1 : start + 4]
    assert examples[0].startswith(
        "  op-naive-drop-0007 (naive × dropped_response, 2 effects): attempt 1 timed"
    )
    assert examples[1] == (
        "  op-naive-drop-0019 (naive × dropped_response, 2 effects): #1 info timeout (1.00 s) → #2 ok 201 (4…"
    )
    assert (
        examples[2]
        == "  op-naive-crash-0003 (naive × crash, 2 effects): #1 info timeout (1.00 s) → #2 ok 201 (42 ms)"
    )
    assert not lines[start + 4].startswith("  op-")


def test_report_paths_close_the_summary(run_result: RunResult) -> None:
    lines = _render(run_result).splitlines()

    assert lines[-3:] == [
        f"  json  {run_result.out_dir / 'run.json'}",
        f"  html  {run_result.out_dir / 'index.html'}",
        f"  junit {run_result.out_dir / 'junit.xml'}",
    ]


def test_colours_duplicates_red_and_zero_green(run_result: RunResult) -> None:
    console = Console(width=100, record=True, color_system="truecolor", force_terminal=True)
    print_summary(run_result, console)
    styled = console.export_text(styles=True)

    assert re.search(r"\x1b\[1;31m *12\.5% \[5\.5–26\.1\]", styled)
    assert re.search(r"\x1b\[32m *0\.0% \[0\.0–8\.8\]", styled)


def test_unknown_cell_is_flagged_with_its_reason(run_result: RunResult) -> None:
    broken = dataclasses.replace(run_result.verdict.cells[2], validity="unknown", error="ledger unreachable")
    cells = run_result.verdict.cells
    result = dataclasses.replace(run_result, verdict=RunVerdict(cells=(*cells[:2], broken, cells[3])))

    text = _render(result)

    assert "idempotent × dropped_response: inconclusive: ledger unreachable" in text
    assert "? idempotent × dropped_response: inconclusive" in text
