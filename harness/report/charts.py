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
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter, MaxNLocator, ScalarFormatter
from matplotlib.typing import RcKeyType

from harness.history import CrashEvent, FaultEvent, RestartEvent
from harness.verdict import CellVerdict
from harness.wording import cell_label, format_percent

PALETTE = ("#2563eb", "#f59e0b", "#0d9488", "#7c3aed", "#db2777", "#65a30d", "#0891b2", "#4b5563")
"""Colours per variant (bars) or per cell (lines), in order; distinguishable and print-friendly."""

ECDF_POINTS = 200
"""Latency ECDFs are drawn through this many quantiles, whatever the number of attempts."""

TIMELINE_BINS = 30
"""About how many bins the effect timeline has, whatever the cell's length: a 1-second cell gets 50 ms
bins, a 5-minute one 10 s bins (:func:`timeline_bin_width`)."""

NICE_STEPS = (1.0, 2.0, 5.0)
"""Bin widths are one of these times a power of ten, so the legend reads ``per 50 ms``, not ``per 37 ms``."""

LEGEND_WIDTH_CHARS = 110
"""About how many characters of legend fit across a 7.5-inch chart at the legend's font size."""

LEGEND_ROW_INCHES = 0.18
"""Height a legend row below a chart adds to it, so the plot above keeps its own height."""

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


def _legend_below(figure: Figure, labels: Sequence[str]) -> None:
    """The legend under the plot, outside it, so it never covers a bar or a line: as many columns as
    the longest label leaves room for."""
    widest = max((len(label) for label in labels), default=1) + 6  # the handle and the gap
    columns = max(1, min(len(labels), LEGEND_WIDTH_CHARS // widest))
    figure.legend(loc="outside lower center", ncols=columns, fontsize=8)
    width, height = figure.get_size_inches()
    figure.set_size_inches(width, height + LEGEND_ROW_INCHES * math.ceil(len(labels) / columns))


def _label_bars(
    axes: Axes, positions: Sequence[float], tops: Sequence[float], rates: Sequence[float], colour: str
) -> None:
    """Each bar's rate over its upper whisker; a 0% bar, which has no height to see, also gets a
    marker on the axis so it reads as measured zero rather than missing."""
    for position, top, rate in zip(positions, tops, rates, strict=True):
        axes.annotate(
            "0%" if rate == 0 else format_percent(rate / 100),
            (position, top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=7.5,
        )
        if rate == 0:
            axes.plot(
                [position],
                [0],
                marker="D",
                markersize=6,
                color=colour,
                markeredgecolor="#111827",
                markeredgewidth=0.8,
                clip_on=False,
                zorder=4,
            )


def duplicate_rate_chart(cells: Sequence[CellVerdict], variants: Sequence[str], faults: Sequence[str]) -> str:
    """Duplicate rate per fault, variants side by side, with 95% interval error bars."""
    with rc_context(_style("duplicates")):
        figure = Figure(figsize=(7.5, 3.4), layout="constrained")
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
            colour = PALETTE[index % len(PALETTE)]
            axes.bar(
                positions,
                rates,
                width * 0.9,
                yerr=[below, above],
                capsize=3,
                color=colour,
                error_kw={"elinewidth": 0.9, "ecolor": "#111827"},
                label=variant,
            )
            tops = [rate + up for rate, up in zip(rates, above, strict=True)]
            _label_bars(axes, positions, tops, rates, colour)
        axes.set_xticks(range(len(faults)), list(faults))
        axes.set_ylabel("operations with ≥ 2 effects (%)")
        axes.set_ylim(bottom=0)
        axes.margins(y=0.12)  # room for the labels over the tallest whisker
        axes.grid(axis="x", visible=False)
        figure.suptitle("Duplicate-effect rate with 95% interval", fontsize=10, fontweight="bold")
        _legend_below(figure, variants)
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
            axes.xaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))  # 20, 50; not 2×10¹
            _legend_below(figure, [cell_label(cell.variant, cell.fault) for cell in cells])
        else:
            axes.text(0.5, 0.5, "no attempts recorded", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("attempt latency (ms, log scale)")
        axes.set_ylabel("fraction of attempts ≤ x")
        axes.set_ylim(0, 1.02)
        figure.suptitle("Attempt latency (ECDF)", fontsize=10, fontweight="bold")
        return _svg_text(figure, "latency")


def cell_start(cell: CellVerdict) -> float:
    """The earliest moment the cell recorded: the zero of its timeline."""
    moments = [*cell.effect_times, *(event.t for event in cell.fault_events)]
    return min(moments) if moments else 0.0


def timeline_bin_width(span_s: float) -> float:
    """The round bin width (:data:`NICE_STEPS` times a power of ten) giving closest to
    :data:`TIMELINE_BINS` bins over ``span_s`` seconds."""
    ideal = max(span_s, 0.001) / TIMELINE_BINS
    power = 10.0 ** math.floor(math.log10(ideal))
    candidates = [step * power * scale for step in NICE_STEPS for scale in (1.0, 10.0)]
    return min(candidates, key=lambda width: abs(math.log(width / ideal)))


def _bin_words(width_s: float) -> str:
    """``50 ms``, ``2 s``: a round bin width without the trailing zeros of a measured duration."""
    return f"{width_s * 1000:.3g} ms" if width_s < 1 else f"{width_s:.3g} s"


def _effects_per_bin(times: Sequence[float], start: float, span: float) -> tuple[float, list[float]]:
    """(bin width, effect count per bin) covering ``span`` seconds from ``start``."""
    width = timeline_bin_width(span)
    counts = [0.0] * (math.ceil(span / width - 1e-9) or 1)
    for moment in times:
        counts[min(int((moment - start) / width), len(counts) - 1)] += 1
    return width, counts


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
    """Effects per time bin against the cell's faults, crashes and restarts."""
    with rc_context(_style(f"timeline-{salt}")):
        figure = Figure(figsize=(7.5, 2.2), layout="constrained")
        axes = figure.add_subplot()
        start = cell_start(cell)
        moments = [*cell.effect_times, *(event.t for event in cell.fault_events)]
        end = max(moments) if moments else start
        width, counts = _effects_per_bin(cell.effect_times, start, end - start)
        axes.stairs(
            counts,
            [index * width for index in range(len(counts) + 1)],
            color="#2563eb",
            linewidth=1.2,
            label=f"effects per {_bin_words(width)}",
        )
        _draw_fault_events(axes, cell.fault_events, start, end)
        axes.set_xlim(0, len(counts) * width)
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # effects come whole
        axes.set_xlabel("seconds since the cell's first event")
        axes.set_ylabel("effects")
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        return _svg_text(figure, f"timeline-{salt}")


RatePoints = Sequence[tuple[float, float, float, float]]
"""``(t, rate, lower, upper)`` of one window at each poll, oldest first; rates as fractions."""


def rate_history_chart(series: Mapping[str, RatePoints], now: float, salt: str) -> str:
    """``harness watch``'s duplicate rate per window over the polls it kept, the first window's 95%
    interval shaded: whether the rate is rising is the question a watcher's page must answer at a glance.
    Time runs in minutes up to the snapshot (0), so the axis reads the same on every reload."""
    with rc_context(_style(f"watch-{salt}")):
        figure = Figure(figsize=(7.5, 2.6), layout="constrained")
        axes = figure.add_subplot()
        drawn = [window for window, points in series.items() if points]
        for index, window in enumerate(drawn):
            points = series[window]
            minutes = [(t - now) / 60 for t, _, _, _ in points]
            colour = PALETTE[index % len(PALETTE)]
            if index == 0:
                axes.fill_between(
                    minutes, [lower * 100 for _, _, lower, _ in points],
                    [upper * 100 for _, _, _, upper in points], color=colour, alpha=0.15, linewidth=0,
                    step="post", label=f"{window}: 95% interval",
                )  # fmt: skip
            axes.step(
                minutes, [rate * 100 for _, rate, _, _ in points], where="post", color=colour,
                linewidth=1.4, marker="o" if len(points) == 1 else None, markersize=3,
                label=f"{window} window",
            )  # fmt: skip
        if drawn:
            _legend_below(figure, [f"{window} window" for window in drawn] + [f"{drawn[0]}: 95% interval"])
        else:
            axes.text(0.5, 0.5, "no good poll yet", ha="center", va="center", transform=axes.transAxes)
        axes.set_xlabel("minutes before this snapshot")
        axes.set_ylabel("duplicate rate (%)")
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_locator(MaxNLocator(nbins=5))
        return _svg_text(figure, f"watch-{salt}")
