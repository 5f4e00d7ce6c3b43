"""``watch.json`` and ``watch.html`` in ``--out``: the latest snapshot, rewritten after every poll.

Each file is written beside itself under a temporary name and renamed over the old one (``os.replace``
is atomic on one file system), so a reader (a dashboard, ``cat``, a browser reload) sees the previous
snapshot or the new one, never half of one. The HTML is, per ledger, a chart of its rates over the polls
it kept and a table with windows as rows,
rendered the report's way (:func:`harness.report.html.render_page`: autoescaped, since operation
references come from the watched service).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from markupsafe import Markup

from harness.report.charts import rate_history_chart
from harness.report.formatting import format_timestamp
from harness.report.html import render_page
from harness.watch.state import LedgerStatus, WatchSnapshot

JSON_NAME = "watch.json"
HTML_NAME = "watch.html"
TEMPLATE = "watch.html.j2"


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: readers never see a partial file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def rate_chart(ledger: LedgerStatus, now: float, salt: str) -> Markup:
    """The ledger's rate history drawn (inline SVG), one line per window in the config's order."""
    series: dict[str, list[tuple[float, float, float, float]]] = {
        stats.window: [] for stats in ledger.windows
    }
    for point in ledger.history:
        series.setdefault(point.window, []).append((point.t, point.rate, point.lower, point.upper))
    return Markup(rate_history_chart(series, now, salt))


def render_snapshot_html(snapshot: WatchSnapshot) -> str:
    last_read = {
        ledger.name: "never" if ledger.last_success is None else format_timestamp(ledger.last_success)
        for ledger in snapshot.ledgers
    }
    chart_svgs = {
        ledger.name: rate_chart(ledger, snapshot.generated_at, str(index))
        for index, ledger in enumerate(snapshot.ledgers)
    }
    return render_page(
        TEMPLATE, snapshot=snapshot, generated=format_timestamp(snapshot.generated_at), last_read=last_read,
        charts=chart_svgs,
    )  # fmt: skip


def write_snapshot(out_dir: Path, snapshot: WatchSnapshot) -> None:
    """Rewrite both files of ``out_dir`` from ``snapshot``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(out_dir / JSON_NAME, json.dumps(snapshot.as_json(), indent=2) + "\n")
    write_atomically(out_dir / HTML_NAME, render_snapshot_html(snapshot))
