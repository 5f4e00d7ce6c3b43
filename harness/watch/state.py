"""What the watcher knows after its latest poll: one status per ledger, shared by every output.

The exporter, the JSON and the HTML snapshot all render one :class:`WatchSnapshot`, so the series on
``/metrics`` and the files in ``--out`` never disagree. A ledger whose last poll failed keeps the
numbers of its last good poll, marked down (``up`` false), with the failure and the time it last read.

Each ledger also keeps the rates of its last :data:`HISTORY_POLLS` good polls (``history``), so the HTML
snapshot can plot how the rate moved, not only where it is: a rise is what someone watching looks for.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.watch.windows import WindowStats

HISTORY_POLLS = 360
"""Good polls of rates kept per ledger: an hour and a half at the default 15 s, a bounded memory."""


@dataclass(frozen=True)
class RatePoint:
    """One window's duplicate rate and its 95% interval at one good poll."""

    t: float
    window: str
    rate: float
    lower: float
    upper: float
    operations: int


@dataclass(frozen=True)
class LedgerStatus:
    name: str
    replays_declared: bool
    up: bool | None = None
    """None before the first poll, then whether the last poll read the ledger."""
    polls: int = 0
    errors: int = 0
    last_success: float | None = None
    last_error: str | None = None
    windows: tuple[WindowStats, ...] = ()
    history: tuple[RatePoint, ...] = ()
    """The windows' rates at the last :data:`HISTORY_POLLS` good polls, oldest first."""

    def succeeded(self, now: float, windows: tuple[WindowStats, ...]) -> LedgerStatus:
        points = tuple(
            RatePoint(now, stats.window, stats.duplicate_rate, stats.duplicate_rate_lower,
                      stats.duplicate_rate_upper, stats.operations)
            for stats in windows
        )  # fmt: skip
        kept = (self.history + points)[-HISTORY_POLLS * max(1, len(windows)) :]
        return dataclasses.replace(
            self, up=True, polls=self.polls + 1, last_success=now, last_error=None, windows=windows,
            history=kept,
        )  # fmt: skip

    def failed(self, error: str) -> LedgerStatus:
        return dataclasses.replace(
            self, up=False, polls=self.polls + 1, errors=self.errors + 1, last_error=error
        )


@dataclass(frozen=True)
class WatchSnapshot:
    generated_at: float
    interval_s: float
    polls: int
    stopped: bool
    ledgers: tuple[LedgerStatus, ...]

    def as_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)
