"""index.html: one self-contained page telling the story of a run, viewable with no network.

Everything is inline: CSS in the template, charts as SVG text from :mod:`harness.report.charts`. The
template (``templates/index.html.j2``, package data) only lays things out; this module decides what is
shown, formats it with :mod:`harness.report.formatting`, and caps the anomaly tables so a 10,000-operation
run still gives a page of a few hundred kilobytes. Jinja2 autoescaping is on: variant, fault and error
texts come from users and from servers, and must never become markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from harness import __version__
from harness.checkers.registry import columns
from harness.gate import format_threshold, gate_label
from harness.report import charts
from harness.report.formatting import (
    column_alarm,
    column_text,
    describe_fault_event,
    format_exposure,
    format_rate,
    format_seconds,
    format_tally,
    format_timestamp,
)
from harness.result import RunResult
from harness.verdict import Anomaly, CellVerdict
from harness.wording import cell_label, format_percent, stop_note

TEMPLATE = "index.html.j2"
ANOMALY_ROWS_PER_CELL = 50
"""Anomalies listed per cell; the rest are counted in a note (they are all in run.json)."""


@dataclass(frozen=True)
class AttemptView:
    """One attempt of an anomalous operation, ready to print."""

    number: int
    outcome: str
    status: str
    error: str
    latency: str
    at: str


@dataclass(frozen=True)
class AnomalyView:
    """One anomalous operation: what went wrong, its attempts and the faults around it."""

    kind: str
    op_id: str
    effect_count: int
    resource_ids: str
    attempts: tuple[AttemptView, ...]
    nearby_faults: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class ColumnValue:
    """One checker column of the summary table for one cell: the text, and whether it is bad news."""

    text: str
    alarm: bool


@dataclass(frozen=True)
class CellView:
    """A cell's section of the page: its numbers, its timeline and its listed anomalies."""

    anchor: str
    label: str
    cell: CellVerdict
    rate: str
    checker_numbers: tuple[ColumnValue, ...]
    exposure: str
    answers: str
    final_outcomes: str
    timeline_svg: Markup
    anomalies: tuple[AnomalyView, ...]
    anomalies_not_shown: int


def _offset(moment: float, start: float) -> str:
    return f"{moment - start:+.2f} s"


def _anomaly_view(anomaly: Anomaly, start: float) -> AnomalyView:
    attempts = tuple(
        AttemptView(
            number=attempt.attempt,
            outcome=attempt.outcome,
            status="" if attempt.status is None else str(attempt.status),
            error=attempt.error or "",
            latency=format_seconds(attempt.latency_s),
            at=_offset(attempt.t, start),
        )
        for attempt in sorted(anomaly.attempts, key=lambda attempt: attempt.attempt)
    )
    nearby = tuple(
        f"{_offset(event.t, start)} {describe_fault_event(event)}" for event in anomaly.nearby_faults
    )
    return AnomalyView(
        kind=anomaly.kind.replace("_", " "),
        op_id=anomaly.op_id,
        effect_count=anomaly.effect_count,
        resource_ids=", ".join(anomaly.resource_ids),
        attempts=attempts,
        nearby_faults=nearby,
        explanation=anomaly.explanation,
    )


def _cell_view(index: int, cell: CellVerdict) -> CellView:
    start = charts.cell_start(cell)
    ordered = cell.anomalies  # in checker order
    shown = ordered[:ANOMALY_ROWS_PER_CELL]
    return CellView(
        anchor=f"cell-{index}",
        label=cell_label(cell.variant, cell.fault),
        cell=cell,
        rate=format_rate(cell),
        checker_numbers=tuple(ColumnValue(column_text(c, cell), column_alarm(c, cell)) for c in columns()),
        exposure=format_exposure(cell),
        answers=format_tally(cell.answers, shown=8),
        final_outcomes=format_tally(cell.final_outcomes, shown=8),
        timeline_svg=Markup(charts.timeline_chart(cell, salt=str(index))),
        anomalies=tuple(_anomaly_view(anomaly, start) for anomaly in shown),
        anomalies_not_shown=len(ordered) - len(shown),
    )


def _ordered_names(result: RunResult) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Variants and faults in scenario order, falling back to their order of appearance in the cells."""
    variants = result.variants or tuple(dict.fromkeys(cell.variant for cell in result.verdict.cells))
    faults = result.faults or tuple(dict.fromkeys(cell.fault for cell in result.verdict.cells))
    return variants, faults


def _environment() -> Environment:
    environment = Environment(
        autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    environment.filters["percent"] = format_percent
    environment.filters["seconds"] = format_seconds
    environment.globals["gate_label"] = gate_label
    environment.globals["format_threshold"] = format_threshold
    environment.globals["stop_note"] = stop_note
    return environment


def _template_text() -> str:
    """The template from package data, so it is found however the harness was installed."""
    return resources.files("harness.report").joinpath("templates", TEMPLATE).read_text(encoding="utf-8")


def render_html(result: RunResult) -> str:
    """The whole page as text."""
    variants, faults = _ordered_names(result)
    cells = result.verdict.cells
    template = _environment().from_string(_template_text())
    return template.render(
        result=result,
        version=__version__,
        date=format_timestamp(result.started_at),
        duration=format_seconds(result.duration_s),
        cells=[_cell_view(index, cell) for index, cell in enumerate(cells)],
        checker_headers=[column.header for column in columns()],
        duplicates_svg=Markup(charts.duplicate_rate_chart(cells, variants, faults)),
        latency_svg=Markup(charts.latency_chart(cells)),
        failed_gates=sum(1 for gate in result.gates if not gate.passed),
        anomaly_cap=ANOMALY_ROWS_PER_CELL,
    )


def write_html(result: RunResult, path: Path) -> Path:
    """Write index.html to ``path`` and return the path."""
    path.write_text(render_html(result), encoding="utf-8")
    return path
