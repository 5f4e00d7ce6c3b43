"""Retries and gave-ups as entries of their own in Locust's statistics, beside the attempts.

Locust's table lists requests by type and name, and a retried attempt is just one more ``charge``
row, its failure just one more failure: in the web UI nobody could tell how often the client retried,
nor how many operations it gave up on. When an operation ends, its retries are counted as ``RETRY``
entries named ``charge (retry 1)``, ``charge (retry 2)``… (so the table shows how far retries went)
and a gave-up operation as one ``GAVE UP`` entry named by its kind. They are markers, not requests:
:func:`request_totals` leaves them out of the aggregate the load driver reports, so the driver's
request counts mean HTTP requests, as before. Imports Locust: load processes only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from locust.stats import RequestStats, StatsEntry

if TYPE_CHECKING:
    from locust.event import EventHook

    from harness.load.operations import OperationRequest

RETRY = "RETRY"
GAVE_UP = "GAVE UP"
MARKER_TYPES = frozenset({RETRY, GAVE_UP})
"""The request types of the marker entries: never HTTP requests."""


def retry_entry_name(kind: str, retry: int) -> str:
    """``charge (retry 2)``: the entry counting operations of ``kind`` that retried at least twice."""
    return f"{kind} (retry {retry})"


def report_operation_end(
    request_event: EventHook, request: OperationRequest, attempts: int, *, gave_up: bool
) -> None:
    """Fire one ``RETRY`` entry per retry the operation made, and a ``GAVE UP`` one if it gave up.

    The twin of a double-submitted first attempt is no retry: the client sent it at once, unasked.
    """
    first_sends = 2 if request.double_submit else 1
    for retry in range(1, attempts - first_sends + 1):
        _fire_marker(request_event, RETRY, retry_entry_name(request.kind, retry))
    if gave_up:
        _fire_marker(request_event, GAVE_UP, request.kind)


def _fire_marker(request_event: EventHook, request_type: str, name: str) -> None:
    request_event.fire(  # type: ignore[no-untyped-call]
        request_type=request_type,
        name=name,
        response_time=0,
        response_length=0,
        response=None,
        context={},
        exception=None,
        start_time=time.time(),
        url="",
    )


def request_totals(stats: RequestStats) -> StatsEntry:
    """Locust's aggregate over the HTTP requests alone: every entry but the retry and gave-up markers."""
    totals = StatsEntry(stats, "Aggregated", "", use_response_times_cache=False)
    for entry in stats.entries.values():
        if entry.method not in MARKER_TYPES:
            totals.extend(entry)
    return totals
