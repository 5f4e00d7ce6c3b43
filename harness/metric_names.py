"""The names of the Prometheus series the harness exports, in one place.

Two exporters share them with what reads them: the live metrics of a run (``harness run
--metrics-port``) and ``harness watch`` on a production ledger; ``examples/monitoring/`` (alerting rules
and the Grafana dashboard) and the tests query them by these names. A rename here is a rename
everywhere, and a test checks that every name the rules and the dashboard use is one of these.

Run series carry the labels ``scenario``, ``variant`` and ``fault`` (:data:`RUN_LABELS`); watch series
carry ``ledger`` (the name of a watched ledger, e.g. one per endpoint) and, for per-window numbers,
``window`` (``5m``, ``1h``: :data:`WATCH_WINDOW_LABELS`).
"""

from __future__ import annotations

RUN_LABELS = ("scenario", "variant", "fault")
"""Labels of every ``harness_run_*`` series."""

RUN_OPERATIONS = "harness_run_operations"
"""Counter (``_total``): logical operations the load finished, by ``outcome``
(``acknowledged``, ``failed``, ``gave_up``)."""
RUN_ATTEMPTS = "harness_run_attempts"
"""Counter (``_total``): HTTP attempts, by ``outcome`` (``answered``, ``timeout``, ``connection``) and
``status`` (the HTTP status, ``none`` when nothing was answered)."""
RUN_RETRIES = "harness_run_retries"
"""Counter (``_total``): attempts after an operation's first, by the ``outcome`` and ``status`` of the
attempt that caused the retry."""
RUN_DUPLICATE_EFFECTS = "harness_run_duplicate_effects"
"""Gauge: effects beyond the first per operation, detected so far in the cell."""
RUN_DUPLICATED_OPERATIONS = "harness_run_duplicated_operations"
"""Gauge: operations that took effect more than once, detected so far."""
RUN_EXPOSED_OPERATIONS = "harness_run_exposed_operations"
"""Gauge: operations the fault reached (the denominator of the duplicate rate)."""
RUN_DUPLICATE_RATE = "harness_run_duplicate_rate"
"""Gauge: duplicated operations / exposed operations, so far (0 while none is exposed)."""
RUN_CRASHES = "harness_run_crashes"
"""Counter (``_total``): crashes of the target the nemesis made."""
RUN_CELL_RUNNING = "harness_run_cell_running"
"""Gauge: 1 while the cell's load runs, 0 once it ended."""

WATCH_LEDGER_LABELS = ("ledger",)
WATCH_WINDOW_LABELS = ("ledger", "window")

WATCH_EFFECTS = "harness_watch_effects"
"""Gauge per window: effects (ledger rows) whose timestamp lies in the window."""
WATCH_OPERATIONS = "harness_watch_operations"
"""Gauge per window: distinct operations among those effects."""
WATCH_DUPLICATED_OPERATIONS = "harness_watch_duplicated_operations"
"""Gauge per window: operations of the window with more than one effect."""
WATCH_DUPLICATE_EFFECTS = "harness_watch_duplicate_effects"
"""Gauge per window: effects beyond the first per operation."""
WATCH_DUPLICATE_RATE = "harness_watch_duplicate_rate"
"""Gauge per window: duplicated operations / operations (0 when the window holds none)."""
WATCH_DUPLICATE_RATE_LOWER = "harness_watch_duplicate_rate_lower"
"""Gauge per window: the 95% lower bound of the duplicate rate."""
WATCH_DUPLICATE_RATE_UPPER = "harness_watch_duplicate_rate_upper"
"""Gauge per window: the 95% upper bound of the duplicate rate."""
WATCH_REPLAYS = "harness_watch_replays"
"""Gauge per window: idempotency-key replays the service reported (only when declared)."""
WATCH_REPLAY_RATE = "harness_watch_replay_rate"
"""Gauge per window: replays / operations (only when replays are declared)."""
WATCH_WORST_OFFENDER_EFFECTS = "harness_watch_worst_offender_effects"
"""Gauge per window and ``operation`` (the few worst only): effects of that operation."""
WATCH_PROBE_UP = "harness_watch_probe_up"
"""Gauge per ledger: 1 when the last poll read the ledger, 0 when it failed."""
WATCH_PROBE_ERRORS = "harness_watch_probe_errors"
"""Counter (``_total``) per ledger: polls that failed."""
WATCH_POLLS = "harness_watch_polls"
"""Counter (``_total``) per ledger: polls made."""
WATCH_LAST_SUCCESS = "harness_watch_last_success_timestamp_seconds"
"""Gauge per ledger: Unix time of the last poll that read the ledger."""

RUN_SERIES = (
    RUN_OPERATIONS,
    RUN_ATTEMPTS,
    RUN_RETRIES,
    RUN_DUPLICATE_EFFECTS,
    RUN_DUPLICATED_OPERATIONS,
    RUN_EXPOSED_OPERATIONS,
    RUN_DUPLICATE_RATE,
    RUN_CRASHES,
    RUN_CELL_RUNNING,
)
WATCH_SERIES = (
    WATCH_EFFECTS,
    WATCH_OPERATIONS,
    WATCH_DUPLICATED_OPERATIONS,
    WATCH_DUPLICATE_EFFECTS,
    WATCH_DUPLICATE_RATE,
    WATCH_DUPLICATE_RATE_LOWER,
    WATCH_DUPLICATE_RATE_UPPER,
    WATCH_REPLAYS,
    WATCH_REPLAY_RATE,
    WATCH_WORST_OFFENDER_EFFECTS,
    WATCH_PROBE_UP,
    WATCH_PROBE_ERRORS,
    WATCH_POLLS,
    WATCH_LAST_SUCCESS,
)
