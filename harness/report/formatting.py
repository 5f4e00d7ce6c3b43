"""How numbers, attempts and fault events read in every report format.

One module so the terminal, the HTML page and the JUnit file say the same thing the same way: a rate
printed as ``12.5% [8.1–18.7]`` in the terminal must not read ``0.125 (0.081, 0.187)`` in the HTML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from harness.checkers.base import Column
from harness.history import AttemptEnd, CrashEvent, FaultEvent, RestartEvent
from harness.verdict import Anomaly, CellVerdict
from harness.wording import format_cell_number

__all__ = [
    "anomaly_story",
    "column_alarm",
    "column_text",
    "column_unknown",
    "describe_attempt",
    "describe_attempts",
    "describe_fault_event",
    "format_exposure",
    "format_rate",
    "format_tally",
    "format_seconds",
    "format_timestamp",
    "report_paths",
]

JSON_NAME = "run.json"
HTML_NAME = "index.html"
JUNIT_NAME = "junit.xml"


def report_paths(out_dir: Path) -> dict[str, Path]:
    """Where each report of a run lives, by format name (``json``, ``html``, ``junit``)."""
    return {"json": out_dir / JSON_NAME, "html": out_dir / HTML_NAME, "junit": out_dir / JUNIT_NAME}


UNKNOWN_MARK = "?"
"""After a number its checker could not fully judge (``0 ?``): every format, so no 0 reads as a pass."""


def column_text(column: Column, cell: CellVerdict) -> str:
    """What a checker's report column shows for ``cell``: its number, with the interval if declared,
    and ``?`` after it when its checker's verdict is unknown."""
    text = format_cell_number(cell, column.metric, with_interval=column.with_interval)
    if column_unknown(column, cell) and cell.number(column.metric) == cell.number(column.metric):
        return f"{text} {UNKNOWN_MARK}"
    return text  # NaN already reads n/a


def column_unknown(column: Column, cell: CellVerdict) -> bool:
    """Whether the column's number judges nothing in ``cell`` (its checker unknown, or absent)."""
    return cell.number_unknown(column.metric)


def column_alarm(column: Column, cell: CellVerdict) -> bool:
    """Whether the column marks ``cell`` as bad: its alarm number is nonzero (or zero, for a column whose
    alarm is ``zero``), or it could not be computed, or its checker's verdict is unknown."""
    value = cell.number(column.alarm_metric)
    if value != value or column_unknown(column, cell):  # NaN: not computed
        return True
    return value == 0 if column.alarm == "zero" else value != 0


def format_tally(counts: Mapping[str, int], shown: int = 4) -> str:
    """``201 ×140, timeout ×20, 500 ×3 (+2 more kinds)``: the most frequent entries of a tally."""
    if not counts:
        return "none"
    parts = [f"{name} ×{count}" for name, count in list(counts.items())[:shown]]
    rest = len(counts) - shown
    return ", ".join(parts) + (f" (+{rest} more kinds)" if rest > 0 else "")


def format_exposure(cell: CellVerdict) -> str:
    """``drop_response_downstream fired 31, hit 31 ops · kill fired 2 of 2, hit 5 ops``."""
    check = cell.check("exposure")
    if check is None or not check.details:
        return "no fault fired"
    parts = []
    for name, part in check.details.items():
        planned = f" of {part['planned']}" if "planned" in part else ""
        parts.append(f"{name} fired {part['fired']}{planned}, hit {part['hit']} ops")
    return " · ".join(parts)


def format_rate(cell: CellVerdict) -> str:
    """A cell's duplicate rate with its interval: ``12.5% [8.1–18.7]``."""
    return format_cell_number(cell, "duplicate_rate", with_interval=True)


def format_seconds(seconds: float) -> str:
    """A duration at a useful precision: ``41 ms``, ``1.20 s``, ``2 min 05 s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def format_timestamp(epoch_s: float) -> str:
    """A wall-clock time in UTC, so reports made on different machines agree."""
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def describe_attempt(attempt: AttemptEnd) -> str:
    """One attempt as the client saw it: ``#1 info timeout (1.00 s)``, ``#2 ok 201 (41 ms)``."""
    parts = [f"#{attempt.attempt}", attempt.outcome]
    if attempt.status is not None:
        parts.append(str(attempt.status))
    if attempt.error:
        parts.append(attempt.error)
    return f"{' '.join(parts)} ({format_seconds(attempt.latency_s)})"


def describe_attempts(attempts: Iterable[AttemptEnd]) -> str:
    """All attempts of an operation on one line, in attempt order."""
    ordered = sorted(attempts, key=lambda attempt: attempt.attempt)
    return " → ".join(describe_attempt(attempt) for attempt in ordered) or "no attempts recorded"


def describe_fault_event(event: FaultEvent | CrashEvent | RestartEvent) -> str:
    """A fault, crash or restart in a few words: ``latency on``, ``crash (kill)``, ``restart``."""
    if isinstance(event, FaultEvent):
        text = f"{event.name} {event.action}"
    elif isinstance(event, CrashEvent):
        text = f"crash ({event.reason})"
    else:
        text = f"restart after {format_seconds(event.downtime_s)} down"
    detail = getattr(event, "detail", "")
    return f"{text}: {detail}" if detail else text


def anomaly_story(anomaly: Anomaly) -> str:
    """The checker's explanation of an anomaly, or its attempts when the checker gave none."""
    return anomaly.explanation or describe_attempts(anomaly.attempts)
