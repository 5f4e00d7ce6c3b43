"""The terminal summary: shows every cell, the intervals, gates, examples and paths, and cuts none of them:
a table where it fits (100 columns and up), a block per cell in a narrower console, long lines wrapped."""

from __future__ import annotations

import dataclasses
import re

from rich.console import Console

from harness.checkers.registry import columns
from harness.report import print_summary
from harness.report.formatting import column_alarm, column_text
from harness.report.terminal import pack
from harness.result import RunResult
from harness.verdict import CheckResult, RunVerdict


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


SECOND_EXAMPLE = (
    "op-naive-drop-0019 (naive × dropped_response, 2 effects): #1 info timeout (1.00 s) → #2 ok 201 (42 ms)"
)
"""Wider than 100 columns once indented: wrapped at 100 and at 80, one line at 160."""


def _examples(text: str) -> list[str]:
    """The example lines under their heading, each wrapped line joined back to one."""
    lines = text.splitlines()
    examples: list[str] = []
    for line in lines[lines.index("Example duplicated operations:") + 1 :]:
        if line.startswith("    "):
            examples[-1] += " " + line.strip()
        elif line.startswith("  "):
            examples.append(line.strip())
        else:
            return examples
    return examples


def test_three_examples_wrap_whole(run_result: RunResult) -> None:
    text = _render(run_result)

    assert _examples(text) == [
        "op-naive-drop-0007 (naive × dropped_response, 2 effects): attempt 1 timed out after the charge;"
        " retry charged again",
        SECOND_EXAMPLE,
        "op-naive-crash-0003 (naive × crash, 2 effects): #1 info timeout (1.00 s) → #2 ok 201 (42 ms)",
    ]
    # a wrapped example goes on indented deeper, so it does not read as a line of its own
    assert "    (42 ms)" in text.splitlines()
    assert "…" not in text


def test_a_wide_console_keeps_the_table_and_one_line_an_example(run_result: RunResult) -> None:
    text = _render(run_result, width=160)

    lines = text.splitlines()
    assert [line.split()[:4] for line in lines if line.startswith("naive ")] == [
        ["naive", "dropped_response", "40", "52"],
        ["naive", "crash", "40", "47"],
    ]
    assert any(line.split()[:2] == ["variant", "fault"] for line in lines)
    start = lines.index("Example duplicated operations:")
    assert [line[:5] for line in lines[start + 1 : start + 5]] == ["  op-", "  op-", "  op-", ""]


def test_a_narrow_console_has_a_block_per_cell_cut_nowhere(run_result: RunResult) -> None:
    text = _render(run_result, width=80)

    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert "…" not in text
    assert not any(line.split()[:2] == ["variant", "fault"] for line in lines)
    start = lines.index("naive × dropped_response")
    assert lines[start : start + 4] == [
        "naive × dropped_response",
        "  ops 40 · attempts 52 · retries 12 · ack/rej/unk 36/1/3 · exposed ops 12",
        "  duplicates [95% CI] 12.5% [5.5–26.1] · extra/1000 150.0 · lost ack 0",
        "  replay ≠ 0",
    ]
    # every block breaks its numbers at the same places, so the blocks compare line by line
    assert lines[start + 4 : start + 8] == [
        "naive × crash",
        "  ops 40 · attempts 47 · retries 7 · ack/rej/unk 37/0/3 · exposed ops 9",
        "  duplicates [95% CI] 5.0% [1.4–16.5] · extra/1000 50.0 · lost ack 1",
        "  replay ≠ 0",
    ]
    assert "idempotent × crash" in lines
    assert "  duplicates [95% CI] 2.5% [0.4–12.8] · extra/1000 25.0 · lost ack 0" in lines
    assert _examples(text)[1] == SECOND_EXAMPLE


def test_a_long_cell_name_is_never_cut(run_result: RunResult) -> None:
    long_name = "idempotent-behind-a-load-balancer-with-two-replicas"
    cells = tuple(
        dataclasses.replace(cell, variant=long_name) if cell.variant == "idempotent" else cell
        for cell in run_result.verdict.cells
    )
    result = dataclasses.replace(run_result, verdict=RunVerdict(cells=cells))

    text = _render(result, width=100)

    assert f"{long_name} × dropped_response" in text.splitlines()
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 100
    assert "…" not in text


def test_the_narrow_layout_colours_duplicates_red_and_zero_green(run_result: RunResult) -> None:
    console = Console(width=80, record=True, color_system="truecolor", force_terminal=True)
    print_summary(run_result, console)
    styled = console.export_text(styles=True)

    assert re.search(r"\x1b\[1;31m12\.5% \[5\.5–26\.1\]", styled)
    assert re.search(r"\x1b\[32m0\.0% \[0\.0–8\.8\]", styled)


def test_pack_fills_lines_and_never_splits_an_item() -> None:
    assert pack([3, 3, 3], width=9, gap=3) == [slice(0, 2), slice(2, 3)]
    assert pack([3, 3, 3], width=15, gap=3) == [slice(0, 3)]
    assert pack([20, 2, 2], width=10, gap=1) == [slice(0, 1), slice(1, 3)]
    assert pack([], width=10) == []


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


def _with_an_unknown_saga_check(run_result: RunResult) -> RunResult:
    """The run with a saga_settled result on every cell: 4 sagas, none half done, judged ``unknown`` on
    the third cell (a ledger could not be read) and valid elsewhere."""
    cells = []
    for index, cell in enumerate(run_result.verdict.cells):
        numbers = {"sagas": 4, "sagas_half_done": 0, "sagas_pending": 0}
        saga = (CheckResult("saga_settled", "unknown", numbers, reason="a ledger could not be read")
                if index == 2 else CheckResult("saga_settled", "valid", numbers))
        others = tuple(check for check in cell.checks if check.checker != saga.checker)
        cells.append(dataclasses.replace(cell, checks=(*others, saga)))
    return dataclasses.replace(run_result, verdict=RunVerdict(cells=tuple(cells)))


def test_an_unknown_checker_count_never_reads_as_a_clean_zero(run_result: RunResult) -> None:
    """A saga checker that could not read every ledger still counts what it saw (0 half-done): the
    terminal shows it as ``0 ?`` in yellow, never the plain 0 of a pass."""
    result = _with_an_unknown_saga_check(run_result)
    console = Console(width=200, record=True, color_system="truecolor", force_terminal=True)
    print_summary(result, console)
    styled = console.export_text(styles=True, clear=False)
    rows = {line.split()[0] + " " + line.split()[1]: line for line in console.export_text().splitlines()
            if line.startswith(("naive ", "idempotent "))}

    assert rows["idempotent dropped_response"].count(" 0 ? ") == 1  # half-done; the other checkers valid
    assert "?" not in rows["idempotent crash"]
    assert re.search(r"\x1b\[1;33m *0 \?", styled)
    unknown_cell, valid_cell = result.verdict.cells[2], result.verdict.cells[3]
    column = next(c for c in columns() if c.metric == "sagas_half_done")
    assert column_text(column, unknown_cell) == "0 ?" and column_alarm(column, unknown_cell)
    assert column_text(column, valid_cell) == "0" and not column_alarm(column, valid_cell)
