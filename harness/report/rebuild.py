"""``harness report RUN_DIR``: a run's result made again from its folder's evidence alone.

Each cell's histories and ``effects.json`` go through the same checkers as during the run, under the
scenario and settings the run recorded when it started (:mod:`harness.report.record`); a cell folder
without ``effects.json`` did not finish (an interrupted or failed run) and is ``interrupted``. The run's
own additions (a ``--baseline``'s gates) are not remade.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from harness.cell import recorded_wall_time
from harness.faults import plan_fault
from harness.ledger import Effect, stream_effects
from harness.report.record import RECORD_NAME, read_record
from harness.result import RunResult
from harness.run import EFFECTS_FILE, cell_dir, check_cell, result_of
from harness.verdict import CellVerdict


def rebuild_result(run_dir: Path) -> RunResult:
    """The result of the run in ``run_dir``; NotARunFolderError when it holds no run record."""
    run_dir = run_dir.resolve()
    record, scenario = read_record(run_dir)
    cells: list[CellVerdict] = []
    for fault in record.faults:
        plan = plan_fault(fault, scenario.faults[fault], record.seed)
        for variant in scenario.target.variants:
            folder = cell_dir(run_dir, variant, fault)
            effects = _finished_effects(folder / EFFECTS_FILE)
            if effects is not None:
                checked = check_cell(scenario, plan, variant, folder, effects)
                cells.append(replace(checked, duration_s=recorded_wall_time(folder)))
    expected = len(record.faults) * len(scenario.target.variants)
    return result_of(
        scenario,
        record,
        run_dir,
        cells,
        duration_s=round(_last_evidence_at(run_dir) - record.started_at, 3),
        interrupted=len(cells) < expected,
    )


def _finished_effects(path: Path) -> Callable[[], Iterator[Effect]] | None:
    """The effects a finished cell's probe read, streamed from its file as the checker attributes
    them (a million effects are never held with their own op ids); None for a cell that never got
    that far (no file, or one cut short by the interrupt while it was written: the file is written
    whole, so its closing bracket is the last thing in it). A file otherwise broken makes the cell
    ``unknown``, naming the error."""
    try:
        with path.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - _TAIL_BYTES))
            finished = file.read().rstrip().endswith(b"]")
    except OSError:  # absent
        return None
    return (lambda: stream_effects(path)) if finished else None


_TAIL_BYTES = 64


def _last_evidence_at(run_dir: Path) -> float:
    """When the run last wrote a cell's evidence (its record, for a run that made no cell)."""
    files = [path for path in (run_dir / "cells").rglob("*") if path.is_file()]
    return max((path.stat().st_mtime for path in files), default=(run_dir / RECORD_NAME).stat().st_mtime)
