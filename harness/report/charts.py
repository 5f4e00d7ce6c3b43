"""The HTML report's charts, drawn with matplotlib as inline SVG strings.

Why SVG text rather than PNG files: the report must be one self-contained file that needs no network
and stays sharp when zoomed. Figures are built with :class:`matplotlib.figure.Figure` directly, never
through ``pyplot``: no global figure registry, no GUI backend, nothing left behind in the process.
Output is deterministic (a fixed ``svg.hashsalt`` per chart, no date metadata), so equal runs give equal
reports; every id is prefixed per chart, so several charts can share one page; and it is small: text
stays text (``svg.fonttype: none``) and long series are reduced before drawing.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter
from matplotlib.typing import RcKeyType

from harness.history import CrashEvent, FaultEvent, RestartEvent
from harness.verdict import CellVerdict
from harness.wording import cell_label

PALETTE = ("#2563eb", "#f59e0b", "#0d9488", "#7c3aed", "#db2777", "#65a30d", "#0891b2", "#4b5563")
"""Colours per variant (bars) or per cell (lines), in order; distinguishable and print-friendly."""

ECDF_POINTS = 200
"""Latency ECDFs are drawn through this many quantiles, whatever the number of attempts."""

MAX_BUCKETS = 400
"""The effect timeline never has more points than this: buckets widen for long cells."""

TIMELINE_BUCKET_S = 0.5

_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e5e7eb",
    "grid.linewidth": 0.6,
    "axes.edgecolor": "#9ca3af",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.frameon": False,
}


def _style(salt: str) -> dict[RcKeyType, Any]:
    """Our chart style plus a per-chart hash salt, so generated ids are stable run after run."""
    return {**_RC, "svg.hashsalt": f"harness-{salt}"}


_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
"""Leave out the RDF block: a date would break determinism, the rest is bytes nobody reads."""

_ID_REFERENCE = re.compile(r'(\bid="|href="#|url\(#)([^")]+)')


def _svg_text(figure: Figure, prefix: str) -> str:
    """The figure as an ``<svg>`` element to inline in HTML: no XML declaration or doctype, and every
    id (with every reference to it) prefixed, since matplotlib names groups ``figure_1``, ``axes_1``...
    in every figure and several charts share one page."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata=_NO_METADATA)
    text = buffer.getvalue()
    svg = text[text.index("<svg") :].strip()
    return _ID_REFERENCE.sub(lambda match: f"{match.group(1)}{prefix}-{match.group(2)}", svg)


def duplicate_rate_chart(cells: Sequence[CellVerdict], variants: Sequence[str], faults: Sequence[str]) -> str:
    """Duplicate rate per fault, variants side by side, with 95% interval error bars."""
    with rc_context(_style("duplicates")):
        figure = Figure(figsize=(7.5, 3.2), layout="constrained")
        axes = figure.add_subplot()
        by_key = {(cell.variant, cell.fault): cell for cell in cells}
        width = 0.8 / max(len(variants), 1)
        for index, variant in enumerate(variants):
            positions, rates, below, above = [], [], [], []
            for fault_index, fault in enumerate(faults):
                cell = by_key.get((variant, fault))
                if cell is None or math.isnan(cell.number("duplicate_rate")):
                    continue
                rate = cell.number("duplicate_rate") * 100
                interval = cell.interval("duplicate_rate")
                positions.append(fault_index - 0.4 + width * (index + 0.5))
                rates.append(rate)
                below.append(max(rate - interval.low * 100, 0.0))
                above.append(max(interval.high * 100 - rate, 0.0))
            axes.bar(
                positions,
                rates,
                width * 0.9,
                yerr=[below, above],
                capsize=3,
                color=PALETTE[index % len(PALETTE)],
                error_kw={"elinewidth": 0.9, "ecolor": "#111827"},
                label=variant,
            )
        axes.set_xticks(range(len(faults)), list(faults))
        axes.set_ylabel("operations with ≥ 2 effects (%)")
        axes.set_ylim(bottom=0)
        axes.grid(axis="x", visible=False)
        axes.legend(loc="upper left", ncols=max(len(variants), 1))
        axes.set_title("Duplicate-effect rate with 95% interval")
        return _svg_text(figure, "duplicates")


def _quantiles(values: Sequence[float], count: int) -> tuple[list[float], list[float]]:
    """(value, cumulative fraction) at ``count`` evenly spaced ranks: the ECDF reduced to a few points."""
    ordered = sorted(values)
    if len(ordered) <= count:
        return ordered, [(rank + 1) / len(ordered) for rank in range(len(ordered))]
    ranks = [round(step * (len(ordered) - 1) / (count - 1)) for step in range(count)]
    return [ordered[rank] for rank in ranks], [(rank + 1) / len(ordered) for rank in ranks]


def latency_chart(cells: Sequence[CellVerdict]) -> str:
    """The ECDF of attempt latencies, one line per cell, on a log time axis."""
    with rc_context(_style("latency")):
        figure = Figure(figsize=(7.5, 3.2), layout="constrained")
        axes = figure.add_subplot()
        drawn = 0
        for index, cell in enumerate(cells):
            latencies_ms = [max(latency * 1000, 0.1) for latency in cell.attempt_latencies_s]
            if not latencies_ms:
                continue
            xs, ys = _quantiles(latencies_ms, ECDF_POINTS)
            linestyle = "-" if index < len(PALETTE) else "--"
            axes.step(
                xs,
                ys,
                where="post",
                color=PALETTE[index % len(PALETTE)],
                linestyle=linestyle,
                linewidth=1.3,
                label=cell_label(cell.variant, cell.fault),
            )
            drawn += 1
        if drawn:
            axes.set_xscale("log")
            axes.xaxis.set_major_formatter(ScalarFormatter())
            axes.legend(loc="lower right")
        else:
            axes.text(0.5, 0.5, "no attempts recorded", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("attempt latency (ms, log scale)")
        axes.set_ylabel("fraction of attempts ≤ x")
        axes.set_ylim(0, 1.02)
        axes.set_title("Attempt latency (ECDF)")
        return _svg_text(figure, "latency")


def cell_start(cell: CellVerdict) -> float:
    """The earliest moment the cell recorded: the zero of its timeline."""
    moments = [*cell.effect_times, *(event.t for event in cell.fault_events)]
    return min(moments) if moments else 0.0


def _effects_per_bucket(times: Sequence[float], start: float, span: float) -> tuple[float, list[float]]:
    """(bucket width, effect count per bucket) covering ``span`` seconds from ``start``."""
    bucket = max(TIMELINE_BUCKET_S, span / MAX_BUCKETS)
    counts = [0.0] * (int(span / bucket) + 1)
    for moment in times:
        counts[min(int((moment - start) / bucket), len(counts) - 1)] += 1
    return bucket, counts


def _draw_fault_events(
    axes: Axes, events: Sequence[FaultEvent | CrashEvent | RestartEvent], start: float, end: float
) -> None:
    """Toxics as shaded spans from on to off, crashes as red lines, restarts as green dashed lines."""
    opened: dict[str, float] = {}
    labelled: set[str] = set()

    def label(kind: str) -> str | None:
        if kind in labelled:
            return None
        labelled.add(kind)
        return kind

    for event in events:
        moment = event.t - start
        if isinstance(event, CrashEvent):
            axes.axvline(moment, color="#dc2626", linewidth=1.2, label=label("crash"))
        elif isinstance(event, RestartEvent):
            axes.axvline(moment, color="#059669", linewidth=1.0, linestyle="--", label=label("restart"))
        elif event.action == "on":
            opened.setdefault(event.name, moment)
        elif event.action == "off" and event.name in opened:
            axes.axvspan(opened.pop(event.name), moment, color="#f59e0b", alpha=0.15, label=label("fault on"))
        elif event.action == "fire":
            axes.axvline(moment, color="#d97706", linewidth=0.8, linestyle=":", label=label("fault fired"))
    for began in opened.values():
        axes.axvspan(began, end - start, color="#f59e0b", alpha=0.15, label=label("fault on"))


def timeline_chart(cell: CellVerdict, salt: str) -> str:
    """Effects per time bucket against the cell's faults, crashes and restarts."""
    with rc_context(_style(f"timeline-{salt}")):
        figure = Figure(figsize=(7.5, 2.2), layout="constrained")
        axes = figure.add_subplot()
        start = cell_start(cell)
        moments = [*cell.effect_times, *(event.t for event in cell.fault_events)]
        end = max(moments) if moments else start
        bucket, counts = _effects_per_bucket(cell.effect_times, start, end - start)
        axes.plot(
            [index * bucket for index in range(len(counts))],
            counts,
            color="#2563eb",
            linewidth=1.2,
            drawstyle="steps-post",
            label=f"effects per {bucket:g} s",
        )
        _draw_fault_events(axes, cell.fault_events, start, end)
        axes.set_xlim(0, max(end - start, bucket))
        axes.set_ylim(bottom=0)
        axes.set_xlabel("seconds since the cell's first event")
        axes.set_ylabel("effects")
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        return _svg_text(figure, f"timeline-{salt}")
