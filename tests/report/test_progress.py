"""The progress bars while a run goes: every cell's name whole, and every row inside the console."""

from __future__ import annotations

from factories import cell_verdict
from rich.console import Console

from harness.listeners.progress import BAR_WIDTH, MIN_BAR_WIDTH, TerminalProgress

CELLS = (("naive", "dropped-responses"), ("idempotent", "dropped-responses"), ("naive", "crash"))
LONG_VARIANT = "idempotent-behind-a-load-balancer-with-two-replicas"


def _progress(width: int, cells: tuple[tuple[str, str], ...] = CELLS) -> tuple[TerminalProgress, Console]:
    """Bars for ``cells``, each half done, on a console of ``width`` columns."""
    console = Console(width=width, record=True, color_system=None)
    progress = TerminalProgress(console)
    for variant, fault in cells:
        progress.cell_started(variant=variant, fault=fault, operations=150)
        progress.cell_progress(variant=variant, fault=fault, completed=75, total=150)
    return progress, console


def _lines(progress: TerminalProgress, console: Console) -> list[str]:
    """The rows as they show now (each call exports only what was printed since the last)."""
    console.print(progress.progress.make_tasks_table(progress.progress.tasks))
    return console.export_text().splitlines()


def _half_bar(line: str) -> int:
    """How long the done half of a row's bar is (the rest is blank without colour)."""
    return line.count("━") + line.count("╸")


def test_at_80_columns_every_row_is_one_line_with_its_name_and_count() -> None:
    lines = _lines(*_progress(80))

    assert len(lines) == len(CELLS)
    for line, (variant, fault) in zip(lines, CELLS, strict=True):
        assert line.startswith(f"{variant} × {fault} ")
        assert line.rstrip().endswith(" 75/150 0:00:00")
        assert len(line.rstrip()) <= 80
    assert MIN_BAR_WIDTH / 2 <= _half_bar(lines[0]) < BAR_WIDTH / 2


def test_cells_that_run_at_once_each_move_their_own_bar() -> None:
    console = Console(width=120, record=True, color_system=None)
    progress = TerminalProgress(console)
    for variant, fault in CELLS:
        progress.cell_started(variant=variant, fault=fault, operations=150)
    progress.cell_progress(variant="naive", fault="dropped-responses", completed=30, total=150)
    progress.cell_progress(variant="naive", fault="crash", completed=120, total=150)
    progress.cell_checked(verdict=cell_verdict("naive", "dropped-responses", operations=30))

    lines = _lines(progress, console)
    counts = [line.rstrip().split()[-2] for line in lines]
    assert counts == ["30/150", "0/150", "120/150"]
    assert lines[0].startswith("naive × dropped-responses: 0 duplicated ")
    assert lines[1].startswith("idempotent × dropped-responses ")


def test_a_wide_console_keeps_the_full_bar() -> None:
    lines = _lines(*_progress(160))

    assert [_half_bar(line) for line in lines] == [BAR_WIDTH // 2] * len(CELLS)


def test_the_bar_gives_way_to_a_name_that_grows() -> None:
    progress, console = _progress(80)
    before = _half_bar(_lines(progress, console)[0])

    progress.cell_checked(verdict=cell_verdict("naive", "crash", operations=150, ops_with_duplicates=12))
    progress.cell_started(variant="idempotent", fault="dropped-responses-again", operations=150)
    progress.cell_checked(
        verdict=cell_verdict("idempotent", "dropped-responses-again", operations=150, ops_with_duplicates=0)
    )

    lines = _lines(progress, console)
    assert lines[2].startswith("naive × crash: 12 duplicated ")
    assert lines[3].startswith("idempotent × dropped-responses-again: 0 duplicated ")
    assert len(lines) == len(CELLS) + 1
    assert all(_half_bar(line) < before for line in lines)


def test_a_name_too_long_for_the_console_wraps_whole() -> None:
    cells = (*CELLS, (LONG_VARIANT, "dropped-responses-and-slow-ones"))
    lines = _lines(*_progress(80, cells))

    assert lines[3].startswith(f"{LONG_VARIANT} × ")
    assert lines[4].strip() == "dropped-responses-and-slow-ones"
    assert "…" not in "".join(lines)
    assert max(len(line.rstrip()) for line in lines) <= 80
    assert sum(line.rstrip().endswith(" 75/150 0:00:00") for line in lines) == len(cells)
