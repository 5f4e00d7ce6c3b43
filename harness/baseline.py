"""The baseline gate: this run's cells against an earlier run's (typically the main branch's run.json).

Which numbers are compared, and how, is declared by the checker modules (``Metric.baseline``):

* ``interval`` (the duplicate rate): a cell regresses when its rate rises beyond the baseline's 95%
  interval — this run's own 95% interval lies wholly above the baseline's, a rise that neither run's
  sampling noise explains (comparing the bare rate with the baseline's high bound would flag an
  unchanged naive variant in about one run in twelve) — or when a cell that had none now has some;
* ``rise`` (lost acknowledged, replay mismatches): a regression when the count grew.

A cell either side could not judge (validity ``unknown``) fails: a number we could not compute must
never let a regression through.

Both runs are read as run.json documents (plain mappings), so the comparison is a pure function that
unit tests feed hand-made dicts. Documents that cannot be compared (another schema version, another
scenario, other cells) raise :class:`~harness.errors.HarnessError`: the CLI exits 2 with the message.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.checkers.base import Metric
from harness.checkers.registry import metrics
from harness.errors import HarnessError
from harness.gate import BASELINE_GATE
from harness.result import GateResult, require_run_schema
from harness.verdict import Interval
from harness.wording import cell_label, format_interval, format_number

HEADLINE = "duplicate_rate"
"""The number a baseline gate result carries as its threshold (the baseline's high bound) and actual."""


@dataclass(frozen=True)
class CellNumbers:
    """What the baseline gate reads from one cell of a run.json: its checkers' numbers and intervals."""

    variant: str
    fault: str
    operations: int
    validity: str
    numbers: Mapping[str, float] = field(default_factory=dict)
    intervals: Mapping[str, Interval] = field(default_factory=dict)

    def number(self, name: str) -> float:
        """NaN when the document holds null or lacks the number (could not be computed)."""
        return self.numbers.get(name, float("nan"))

    def interval(self, name: str) -> Interval:
        return self.intervals.get(name, Interval(float("nan"), float("nan")))


def compared_metrics() -> tuple[Metric, ...]:
    """The metrics a baseline compares, in the registry's order."""
    return tuple(metric for metric in metrics() if metric.baseline is not None)


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
        numbers = ", ".join(
            _side_by_side(metric, self.baseline, self.current) for metric in compared_metrics()
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
            threshold=self.baseline.interval(HEADLINE).high,
            actual=self.current.number(HEADLINE),
            passed=self.passed,
            message=self.message(),
        )


def _side_by_side(metric: Metric, base: CellNumbers, now: CellNumbers) -> str:
    """``duplicate rate 2.0% vs baseline 0.0% [0.0–1.9]``, ``lost acknowledged 0 vs 0``."""
    name = metric.name
    shown_now, shown_base = format_number(name, now.number(name)), format_number(name, base.number(name))
    if metric.baseline == "interval":
        return f"{metric.label} {shown_now} vs baseline {shown_base} {format_interval(base.interval(name))}"
    return f"{metric.label} {shown_now} vs {shown_base}"


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def _cell_numbers(raw: Mapping[str, Any], where: str) -> CellNumbers:
    try:
        numbers: dict[str, float] = {}
        intervals: dict[str, Interval] = {}
        for check in raw["checks"]:
            numbers.update({name: _number(value) for name, value in check["numbers"].items()})
            intervals.update(
                {
                    name: Interval(_number(i["low"]), _number(i["high"]))
                    for name, i in check["intervals"].items()
                }
            )
        return CellNumbers(
            variant=str(raw["variant"]),
            fault=str(raw["fault"]),
            operations=int(raw["operations"]),
            validity=str(raw["validity"]),
            numbers=numbers,
            intervals=intervals,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
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
    wanted = compared_metrics()
    if now.validity == "unknown" or any(math.isnan(now.number(metric.name)) for metric in wanted):
        return ("the checker could not judge this cell now",)
    if base.validity == "unknown" or any(_unreadable(base, metric) for metric in wanted):
        return ("the checker could not judge this cell in the baseline",)
    found: list[str] = []
    for metric in wanted:
        found.extend(
            _interval_rise(metric, base, now)
            if metric.baseline == "interval"
            else _count_rise(metric, base, now)
        )
    return tuple(found)


def _unreadable(cell: CellNumbers, metric: Metric) -> bool:
    if math.isnan(cell.number(metric.name)):
        return True
    return metric.baseline == "interval" and math.isnan(cell.interval(metric.name).high)


def _interval_rise(metric: Metric, base: CellNumbers, now: CellNumbers) -> list[str]:
    name = metric.name
    if now.interval(name).low > base.interval(name).high:
        return [
            f"{metric.label} {format_number(name, now.number(name))} {format_interval(now.interval(name))} "
            f"is above the baseline's 95% interval {format_interval(base.interval(name))}"
        ]
    numerator = metric.numerator
    if numerator is not None and base.number(numerator) == 0 and now.number(numerator) > 0:
        declared = next((m for m in metrics() if m.name == numerator), None)
        what = declared.label if declared is not None else numerator
        return [f"{now.number(numerator):.0f} {what} where the baseline had none"]
    return []


def _count_rise(metric: Metric, base: CellNumbers, now: CellNumbers) -> list[str]:
    name = metric.name
    if now.number(name) > base.number(name):
        return [
            f"{metric.label} rose from {format_number(name, base.number(name))} "
            f"to {format_number(name, now.number(name))}"
        ]
    return []


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
