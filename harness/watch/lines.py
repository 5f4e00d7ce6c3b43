"""One terminal line per ledger after each poll: what someone watching the watcher's terminal needs.

The Prometheus series and the snapshot files are for machines; a developer who runs ``harness watch``
by hand (or the demo) wants to see the rate move. Each line fits 100 columns with two windows: the time,
the ledger, then per window the duplicated over all operations, the rate and its 95% interval.
"""

from __future__ import annotations

import time

from harness.watch.state import LedgerStatus, WatchSnapshot
from harness.watch.windows import WindowStats


def _window(stats: WindowStats) -> str:
    if not stats.operations:
        return f"{stats.window} no operations"
    return (
        f"{stats.window} {stats.duplicated_operations}/{stats.operations} dup "
        f"{stats.duplicate_rate:.1%} ({stats.duplicate_rate_lower:.1%}-{stats.duplicate_rate_upper:.1%})"
    )


def _ledger(status: LedgerStatus) -> str:
    if status.up is False:
        return f"{status.name}  down ({status.errors} failed poll(s)); last numbers kept"
    return f"{status.name}  " + "  ".join(_window(stats) for stats in status.windows)


def poll_lines(snapshot: WatchSnapshot) -> list[str]:
    """``HH:MM:SS ledger  5m 3/120 dup 2.5% (0.9%-7.1%)  1h ...``, one per ledger."""
    clock = time.strftime("%H:%M:%S", time.localtime(snapshot.generated_at))
    return [f"{clock} {_ledger(status)}" for status in snapshot.ledgers]
