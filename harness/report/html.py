"""index.html: one self-contained page telling the story of a run, viewable with no network.

Everything is inline: CSS in the template, charts as SVG text from :mod:`harness.report.charts`. The
template (``templates/index.html.j2``, package data) only lays things out; this module decides what is
shown, formats it with :mod:`harness.report.formatting`, and groups each cell's anomalous operations by
kind, one line each, a few open and the rest folded, capped so a 10,000-operation run still gives a page
of a few hundred kilobytes. Jinja2 autoescaping is on: variant, fault and error texts come from users and
from servers, and must never become markup.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import Environment, StrictUndefined
from markupsafe import Markup

from harness import __version__
from harness.cell import cell_dir
from harness.checkers.base import AnomalyDeclaration, Column
from harness.checkers.registry import anomaly_declaration, columns, metrics
from harness.gate import format_threshold, gate_label
from harness.report import charts
from harness.report.formatting import (
    anomaly_story,
    column_alarm,
    column_text,
    describe_fault_event,
    format_exposure,
    format_rate,
    format_seconds,
    format_tally,
    format_timestamp,
)
from harness.report.saga_timeline import CellTimelines, cell_saga_timelines
from harness.result import RunResult
from harness.verdict import Anomaly, CellVerdict
from harness.wording import cell_label, format_percent, stop_note

TEMPLATE = "index.html.j2"
ANOMALY_ROWS_PER_KIND = 50
"""Anomalies listed per kind in a cell; the rest are counted in a note (run.json holds all it kept)."""

ANOMALIES_OPEN = 3
"""Anomalies of a kind shown before the rest fold away under a ``<details>``: a few tell the story."""


@dataclass(frozen=True)
class AnomalyView:
    """One anomalous operation on one line: when its first attempt was sent, which, what happened (the
    checker's story), and the faults around it."""

    at: str
    op_id: str
    story: str
    nearby_faults: str


@dataclass(frozen=True)
class AnomalyGroup:
    """A cell's anomalies of one kind: a few shown, the rest folded, the count of those not listed."""

    title: str
    summary: str
    shared_nearby_faults: str
    shown: tuple[AnomalyView, ...]
    folded: tuple[AnomalyView, ...]
    not_listed: int


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
    anomaly_groups: tuple[AnomalyGroup, ...]
    sagas: CellTimelines
    """Each broken saga's lanes across the services (none for a cell without saga evidence)."""


def _offset(moment: float, start: float) -> str:
    return f"{moment - start:+.2f} s"


def _anomaly_view(anomaly: Anomaly, start: float) -> AnomalyView:
    first_sent = min((attempt.t - attempt.latency_s for attempt in anomaly.attempts), default=start)
    nearby = "; ".join(
        f"{_offset(event.t, start)} {describe_fault_event(event)}" for event in anomaly.nearby_faults
    )
    return AnomalyView(
        at=_offset(first_sent, start),
        op_id=anomaly.op_id,
        story=anomaly_story(anomaly),
        nearby_faults=nearby,
    )


def _flagged_count(cell: CellVerdict, kind: str, listed: int) -> int:
    """How many operations of ``cell`` the checker flagged ``kind``: the first count metric declared for
    the kind (a checker declares its headline first; ``extra_effects`` after ``ops_with_duplicates``),
    which also counts those beyond the ones it kept as anomalies; ``listed`` when no metric counts it."""
    counts = (metric for metric in metrics() if metric.anomaly_kind == kind and metric.unit == "count")
    headline = next(counts, None)
    value = float("nan") if headline is None else cell.number(headline.name)
    return listed if value != value else max(listed, int(value))


def _hoist_shared_faults(views: tuple[AnomalyView, ...]) -> tuple[str, tuple[AnomalyView, ...]]:
    """When every listed operation had the same faults nearby (one toxic on for the whole cell), say
    them once for the group rather than on every line."""
    distinct = {view.nearby_faults for view in views}
    if len(views) < 2 or len(distinct) != 1 or not views[0].nearby_faults:
        return "", views
    return views[0].nearby_faults, tuple(dataclasses.replace(view, nearby_faults="") for view in views)


def _judged(cell: CellVerdict, declaration: AnomalyDeclaration) -> int:
    """How many operations of ``cell`` the checker judged for the kind: a method checker's acts of its
    method (``15 of 45``, not of every create and act of the cell), else all the cell's operations."""
    judged = float("nan") if declaration.out_of is None else cell.number(declaration.out_of)
    return cell.operations if judged != judged else int(judged)


def _anomaly_groups(cell: CellVerdict, start: float) -> tuple[AnomalyGroup, ...]:
    by_kind: dict[str, list[Anomaly]] = {}
    for anomaly in cell.anomalies:  # in checker order
        by_kind.setdefault(anomaly.kind, []).append(anomaly)
    groups = []
    for kind, anomalies in by_kind.items():
        declaration = anomaly_declaration(kind)
        views = tuple(_anomaly_view(anomaly, start) for anomaly in anomalies[:ANOMALY_ROWS_PER_KIND])
        shared, views = _hoist_shared_faults(views)
        flagged = _flagged_count(cell, kind, len(anomalies))
        groups.append(
            AnomalyGroup(
                title=declaration.title,
                summary=f"{flagged} of {_judged(cell, declaration)} operations {declaration.words}",
                shared_nearby_faults=shared,
                shown=views[:ANOMALIES_OPEN],
                folded=views[ANOMALIES_OPEN:],
                not_listed=flagged - len(views),
            )
        )
    return tuple(groups)


def _cell_view(index: int, cell: CellVerdict, shown: Sequence[Column], out_dir: Path) -> CellView:
    return CellView(
        anchor=f"cell-{index}",
        label=cell_label(cell.variant, cell.fault),
        cell=cell,
        rate=format_rate(cell),
        checker_numbers=tuple(ColumnValue(column_text(c, cell), column_alarm(c, cell)) for c in shown),
        exposure=format_exposure(cell),
        answers=format_tally(cell.answers, shown=8),
        final_outcomes=format_tally(cell.final_outcomes, shown=8),
        timeline_svg=Markup(charts.timeline_chart(cell, salt=str(index))),
        anomaly_groups=_anomaly_groups(cell, charts.cell_start(cell)),
        sagas=cell_saga_timelines(cell, cell_dir(out_dir, cell.variant, cell.fault)),
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


def _template_text(name: str = TEMPLATE) -> str:
    """A template from package data, so it is found however the harness was installed."""
    return resources.files("harness.report").joinpath("templates", name).read_text(encoding="utf-8")


def render_page(name: str, **context: object) -> str:
    """Another page rendered the report's way (``harness watch``'s snapshot): the template ``name``
    from the same package folder, autoescaped, with the same filters."""
    return _environment().from_string(_template_text(name)).render(version=__version__, **context)


def render_html(result: RunResult) -> str:
    """The whole page as text."""
    variants, faults = _ordered_names(result)
    cells = result.verdict.cells
    shown = columns(cells)
    template = _environment().from_string(_template_text())
    return template.render(
        result=result,
        version=__version__,
        date=format_timestamp(result.started_at),
        duration=format_seconds(result.duration_s),
        cells=[_cell_view(index, cell, shown, result.out_dir) for index, cell in enumerate(cells)],
        checker_headers=[column.header for column in shown],
        duplicates_svg=Markup(charts.duplicate_rate_chart(cells, variants, faults)),
        latency_svg=Markup(charts.latency_chart(cells)),
        failed_gates=sum(1 for gate in result.gates if not gate.passed),
        anomaly_cap=ANOMALY_ROWS_PER_KIND,
    )


def write_html(result: RunResult, path: Path) -> Path:
    """Write index.html to ``path`` and return the path."""
    path.write_text(render_html(result), encoding="utf-8")
    return path
