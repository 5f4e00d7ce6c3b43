"""Rolling windows over a ledger: how many operations took effect more than once, and how sure we are.

Window semantics (the numbers of every exporter, snapshot and test follow these):

* A window ``w`` (``5m``, ``1h``) ending at the poll's time ``now`` covers ``[now - w, now]``.
* An **operation belongs to a window by its first effect**: the earliest timestamp among its rows.
  Only operations whose first effect lies in the window count; a later effect of an operation first
  seen before the window does not make it an operation of the window (it was one of an older one).
* Its **effects counted are all seen so far**: a duplicate that lands a little after the first effect
  (a retry, a redelivered message) counts for the window of the first effect, at every poll from the
  one that reads it. So a window's numbers may grow between polls as late duplicates land; they never
  count a duplicate against an operation of another window.
* ``effects`` are those operations' rows, ``operations`` their number, ``duplicated_operations`` those
  with two or more rows, ``duplicate_effects`` the rows beyond each operation's first, and the
  ``duplicate_rate`` is duplicated / operations, with its 95% Wilson score interval
  (:func:`harness.stats.wilson_interval`: honest at 0 duplicates, where the normal interval claims
  certainty). The interval is that of one window's sample; it does not account for looking at every
  poll (a dashboard, not a stopping rule).
* A row timestamped after ``now`` (a clock ahead of ours) counts in every window, as the newest.
* **Bounded memory and reads**: a poll reads (where the source can be told ``since``,
  :mod:`harness.watch.ledger`) only rows at or after the oldest window's start minus ``lookback``,
  and keeps only operations whose first effect is at or after that horizon. The lookback is how late a
  duplicate may land and still be known as one: an operation first seen before the horizon whose
  duplicate lands inside the window is read as an operation of its own with one effect.

Pure functions of rows and ``now``: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from harness.stats import wilson_interval
from harness.watch.ledger import LedgerRow


@dataclass
class OperationTally:
    """One operation: when it first took effect, and how many effects it has had so far."""

    first_t: float
    effects: int


@dataclass(frozen=True)
class Offender:
    operation: str
    effects: int


@dataclass(frozen=True)
class WindowStats:
    """One window's numbers at one poll (see the module docstring for what each counts)."""

    window: str
    seconds: float
    effects: int
    operations: int
    duplicated_operations: int
    duplicate_effects: int
    duplicate_rate: float
    duplicate_rate_lower: float
    duplicate_rate_upper: float
    worst: tuple[Offender, ...]
    replays: int | None = None
    replay_rate: float | None = None


def tally(rows: Iterable[LedgerRow], horizon: float) -> dict[str, OperationTally]:
    """Each operation's first effect and effect count, for operations first seen at or after ``horizon``.

    Operations first seen before it are counted first and dropped after, so their late duplicates are
    never taken for new operations (as long as the read still returns their first effect).
    """
    tallies: dict[str, OperationTally] = {}
    for row in rows:
        known = tallies.get(row.operation)
        if known is None:
            tallies[row.operation] = OperationTally(row.t, 1)
        else:
            known.effects += 1
            known.first_t = min(known.first_t, row.t)
    return {operation: t for operation, t in tallies.items() if t.first_t >= horizon}


def window_stats(
    tallies: Mapping[str, OperationTally],
    now: float,
    window: str,
    seconds: float,
    worst: int,
    replays: int | None = None,
) -> WindowStats:
    """The numbers of the window ``[now - seconds, now]`` over ``tallies``."""
    start = now - seconds
    inside = {operation: t for operation, t in tallies.items() if t.first_t >= start}
    operations = len(inside)
    effects = sum(t.effects for t in inside.values())
    duplicated = sum(1 for t in inside.values() if t.effects > 1)
    interval = wilson_interval(duplicated, operations)
    offenders = sorted(
        (Offender(operation, t.effects) for operation, t in inside.items() if t.effects > 1),
        key=lambda offender: (-offender.effects, offender.operation),
    )
    return WindowStats(
        window=window,
        seconds=seconds,
        effects=effects,
        operations=operations,
        duplicated_operations=duplicated,
        duplicate_effects=effects - operations,
        duplicate_rate=duplicated / operations if operations else 0.0,
        duplicate_rate_lower=interval.low,
        duplicate_rate_upper=interval.high,  # an empty window knows nothing: [0, 1]
        worst=tuple(offenders[:worst]),
        replays=replays,
        replay_rate=None if replays is None else (replays / operations if operations else 0.0),
    )
