"""The baseline gate: this run's cells against an earlier run's (typically the main branch's run.json).

A cell regresses when its duplicate rate rises beyond the baseline's 95% interval — this run's own 95%
interval lies wholly above the baseline's, a rise that neither run's sampling noise explains (comparing
the bare rate with the baseline's high bound would flag an unchanged naive variant in about one run in
twelve) — or when a cell that had no duplicate at all now has one, or when it has more lost
acknowledged operations or more replay mismatches than the baseline had. A cell either side could not
judge (validity ``unknown``) fails: a number we could not compute must never let a regression through.

Both runs are read as run.json documents (plain mappings), so the comparison is a pure function that
unit tests feed hand-made dicts. Documents that cannot be compared (another schema version, another
scenario, other cells) raise :class:`~harness.errors.HarnessError`: the CLI exits 2 with the message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import HarnessError
from harness.gate import BASELINE_GATE
from harness.report.formatting import cell_label, format_interval, format_percent
from harness.result import GateResult, require_run_schema
from harness.verdict import Interval


@dataclass(frozen=True)
class CellNumbers:
    """What the baseline gate reads from one cell of a run.json."""

    variant: str
    fault: str
    operations: int
    ops_with_duplicates: int
    duplicate_rate: float  # NaN when the document holds null (could not be computed)
    interval: Interval
    lost_acknowledged: int
    replay_mismatches: int
    validity: str


@dataclass(frozen=True)
class CellComparison:
    """One cell of this run against the same cell of the baseline; ``regressions`` empty means held."""

    baseline: CellNumbers
    current: CellNumbers
    regressions: tuple[str, ...]

    @property
    def variant(self) -> str:
        return self.current.variant

    @property
    def fault(self) -> str:
        return self.current.fault

    @property
    def passed(self) -> bool:
        return not self.regressions

    def message(self) -> str:
        """One sentence for a CI log line or a JUnit failure."""
        base, now = self.baseline, self.current
        numbers = (
            f"duplicate rate {format_percent(now.duplicate_rate)} vs baseline "
            f"{format_percent(base.duplicate_rate)} {format_interval(base.interval)}, "
            f"lost acknowledged {now.lost_acknowledged} vs {base.lost_acknowledged}, "
            f"replay mismatches {now.replay_mismatches} vs {base.replay_mismatches}"
        )
        if self.passed:
            return f"no regression against the baseline ({numbers})"
        return f"regressed against the baseline: {'; '.join(self.regressions)} ({numbers})"

    def gate_result(self) -> GateResult:
        """The comparison as a gate: threshold the baseline interval's high bound, actual the rate now."""
        return GateResult(
            variant=self.variant,
            fault=self.fault,
            name=BASELINE_GATE,
            threshold=self.baseline.interval.high,
            actual=self.current.duplicate_rate,
            passed=self.passed,
            message=self.message(),
        )


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _cell_numbers(raw: Mapping[str, Any], where: str) -> CellNumbers:
    try:
        interval = raw["duplicate_rate_interval"]
        return CellNumbers(
            variant=str(raw["variant"]),
            fault=str(raw["fault"]),
            operations=int(raw["operations"]),
            ops_with_duplicates=int(raw["ops_with_duplicates"]),
            duplicate_rate=_number(raw["duplicate_rate"]),
            interval=Interval(_number(interval["low"]), _number(interval["high"])),
            lost_acknowledged=int(raw["lost_acknowledged"]),
            replay_mismatches=int(raw["replay_mismatches"]),
            validity=str(raw["validity"]),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise HarnessError(f"{where}: a cell lacks a readable field ({error!s})") from None


def run_cells(document: Mapping[str, Any], where: str) -> dict[tuple[str, str], CellNumbers]:
    """The cells of a run.json document by (variant, fault), after checking its schema version."""
    require_run_schema(document, where)
    verdict = document.get("verdict")
    cells = verdict.get("cells") if isinstance(verdict, Mapping) else None
    if not isinstance(cells, list):
        raise HarnessError(f"{where}: not a run.json: no verdict.cells list")
    numbers = [_cell_numbers(cell, where) for cell in cells]
    return {(cell.variant, cell.fault): cell for cell in numbers}


def _names(cells: Iterable[tuple[str, str]]) -> str:
    return ", ".join(cell_label(variant, fault) for variant, fault in sorted(cells))


def require_same_cells(
    baseline: Mapping[str, Any],
    scenario_name: str,
    cells: Iterable[tuple[str, str]],
    baseline_name: str = "baseline",
) -> dict[tuple[str, str], CellNumbers]:
    """``baseline``'s cells; HarnessError unless it is a run of ``scenario_name`` with exactly ``cells``.

    Used before a run too, so a mismatched baseline fails in a second rather than after the run.
    """
    base_scenario = baseline.get("scenario_name")
    if base_scenario != scenario_name:
        raise HarnessError(
            f"{baseline_name} is a run of scenario {base_scenario!r}, not {scenario_name!r}: "
            "the cells cannot be compared"
        )
    base_cells = run_cells(baseline, baseline_name)
    have, wanted = set(base_cells), set(cells)
    if have != wanted:
        details = []
        if wanted - have:
            details.append(f"not in the baseline: {_names(wanted - have)}")
        if have - wanted:
            details.append(f"only in the baseline: {_names(have - wanted)}")
        raise HarnessError(f"the cells do not match {baseline_name} ({'; '.join(details)})")
    return base_cells


def _regressions(base: CellNumbers, now: CellNumbers) -> tuple[str, ...]:
    if now.validity == "unknown" or math.isnan(now.duplicate_rate):
        return ("the checker could not judge this cell now",)
    if base.validity == "unknown" or math.isnan(base.duplicate_rate) or math.isnan(base.interval.high):
        return ("the checker could not judge this cell in the baseline",)
    found: list[str] = []
    if now.interval.low > base.interval.high:
        found.append(
            f"duplicate rate {format_percent(now.duplicate_rate)} {format_interval(now.interval)} is above "
            f"the baseline's 95% interval {format_interval(base.interval)}"
        )
    elif base.ops_with_duplicates == 0 and now.ops_with_duplicates > 0:
        found.append(f"{now.ops_with_duplicates} duplicated operations where the baseline had none")
    if now.lost_acknowledged > base.lost_acknowledged:
        found.append(f"lost acknowledged rose from {base.lost_acknowledged} to {now.lost_acknowledged}")
    if now.replay_mismatches > base.replay_mismatches:
        found.append(f"replay mismatches rose from {base.replay_mismatches} to {now.replay_mismatches}")
    return tuple(found)


def compare_runs(
    current: Mapping[str, Any],
    baseline: Mapping[str, Any],
    current_name: str = "run",
    baseline_name: str = "baseline",
) -> tuple[CellComparison, ...]:
    """Every cell of ``current`` against the same cell of ``baseline``, in ``current``'s cell order.

    Raises HarnessError when either document has another schema version, the scenarios differ, or the
    two runs do not have exactly the same cells.
    """
    now_cells = run_cells(current, current_name)
    base_cells = require_same_cells(baseline, str(current.get("scenario_name")), now_cells, baseline_name)
    return tuple(
        CellComparison(base_cells[key], now, _regressions(base_cells[key], now))
        for key, now in now_cells.items()
    )


def baseline_gates(comparisons: Iterable[CellComparison]) -> tuple[GateResult, ...]:
    """One gate result per compared cell, for junit.xml, the reports and the exit status."""
    return tuple(comparison.gate_result() for comparison in comparisons)
