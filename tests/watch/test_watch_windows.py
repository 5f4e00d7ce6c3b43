"""Window numbers on seeded ledgers whose duplicates are known: the watcher finds exactly them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from harness.watch.ledger import LedgerRow
from harness.watch.lines import poll_lines
from harness.watch.snapshot import render_snapshot_html
from harness.watch.state import HISTORY_POLLS, LedgerStatus, RatePoint, WatchSnapshot
from harness.watch.timestamps import epoch_seconds
from harness.watch.windows import WindowStats, tally, window_stats
from tests.watch.watching import known_ledger

NOW = 1_800_000_000.0
HOUR = 3600.0


def rows_of(ledger_rows: tuple[tuple[str, str, float], ...]) -> list[LedgerRow]:
    return [LedgerRow(reference, created_at) for reference, _, created_at in ledger_rows]


@pytest.mark.parametrize(("seed", "operations", "duplicated"), [(1, 400, 37), (2, 1000, 0), (3, 50, 50)])
def test_a_window_finds_the_known_duplicates(seed: int, operations: int, duplicated: int) -> None:
    known = known_ledger(seed, operations, duplicated, NOW, span_s=HOUR - 120)
    stats = window_stats(tally(rows_of(known.rows), NOW - 2 * HOUR), NOW, "1h", HOUR, worst=5)

    assert stats.operations == known.operations
    assert stats.duplicated_operations == len(known.duplicated)
    assert stats.duplicate_rate == len(known.duplicated) / known.operations
    assert stats.duplicate_effects == known.extra_effects
    assert stats.effects == len(known.rows)
    assert stats.duplicate_rate_lower <= stats.duplicate_rate <= stats.duplicate_rate_upper
    assert {offender.operation for offender in stats.worst} <= known.duplicated
    assert len(stats.worst) == min(5, len(known.duplicated))


def test_no_duplicates_still_has_an_honest_upper_bound_that_shrinks_with_more_operations() -> None:
    bounds = []
    for operations in (30, 3000):
        known = known_ledger(7, operations, 0, NOW, span_s=HOUR - 120)
        stats = window_stats(tally(rows_of(known.rows), 0.0), NOW, "1h", HOUR, worst=5)
        assert (stats.duplicate_rate, stats.duplicate_rate_lower) == (0.0, 0.0)
        bounds.append(stats.duplicate_rate_upper)
    assert bounds[0] > bounds[1] > 0


def test_the_worst_offenders_are_those_with_most_effects_in_order() -> None:
    rows = [LedgerRow("a", NOW - 100)] * 2 + [LedgerRow("b", NOW - 90)] * 4 + [LedgerRow("c", NOW - 80)] * 3
    rows += [LedgerRow("single", NOW - 70)]
    stats = window_stats(tally(rows, 0.0), NOW, "5m", 300, worst=2)

    assert [(o.operation, o.effects) for o in stats.worst] == [("b", 4), ("c", 3)]


def test_an_operation_belongs_to_the_window_of_its_first_effect_with_its_late_duplicates() -> None:
    rows = [
        LedgerRow("recent", NOW - 290),
        LedgerRow("recent", NOW - 10),  # first in 5m: its late duplicate too
        LedgerRow("older", NOW - 400),
        LedgerRow("older", NOW - 10),  # first before 5m: not of the 5m window
        LedgerRow("clean", NOW - 30),
    ]
    tallies = tally(rows, NOW - HOUR)
    five = window_stats(tallies, NOW, "5m", 300, worst=5)
    hour = window_stats(tallies, NOW, "1h", HOUR, worst=5)

    assert (five.operations, five.duplicated_operations, five.effects) == (2, 1, 3)
    assert (hour.operations, hour.duplicated_operations, hour.effects) == (3, 2, 5)


def test_operations_first_seen_before_the_horizon_are_dropped_and_their_duplicates_not_taken_for_new() -> (
    None
):
    rows = [LedgerRow("ancient", NOW - 2 * HOUR), LedgerRow("ancient", NOW - 60), LedgerRow("new", NOW - 60)]
    tallies = tally(rows, NOW - HOUR)

    assert set(tallies) == {"new"}
    assert window_stats(tallies, NOW, "5m", 300, worst=5).operations == 1


def test_an_empty_window_reports_zero_and_the_whole_interval() -> None:
    stats = window_stats({}, NOW, "5m", 300, worst=5, replays=0)
    assert (stats.operations, stats.duplicate_rate, stats.replay_rate) == (0, 0.0, 0.0)
    assert (stats.duplicate_rate_lower, stats.duplicate_rate_upper) == (0.0, 1.0)


MOMENT = datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        MOMENT.timestamp(),
        int(MOMENT.timestamp() * 1000),
        str(MOMENT.timestamp()),
        "2027-01-15T08:00:00Z",
        "2027-01-15 08:00:00",
        "2027-01-15T09:00:00+01:00",
        MOMENT,
        MOMENT.replace(tzinfo=None),
        MOMENT.astimezone(timezone(timedelta(hours=-5))),
    ],
)
def test_a_timestamp_in_any_of_the_shapes_ledgers_keep_reads_as_the_same_moment(value: object) -> None:
    assert epoch_seconds(value) == pytest.approx(MOMENT.timestamp())


@pytest.mark.parametrize("value", [None, True, "yesterday", float("nan"), [1]])
def test_what_is_no_time_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="expected"):
        epoch_seconds(value)


def test_the_poll_lines_say_each_windows_rate_and_a_down_ledger_fit_100_columns() -> None:
    stats = [
        WindowStats("5m", 300, 130, 120, 3, 10, 0.025, 0.0085, 0.0709, ()),
        WindowStats("1h", 3600, 0, 0, 0, 0, 0.0, 0.0, 1.0, ()),
    ]
    up = LedgerStatus("payments", False).succeeded(0.0, tuple(stats))
    down = up.failed("ledgers.orders.query: no such table")
    lines = poll_lines(WatchSnapshot(0.0, 15, 3, False, (up, dataclasses.replace(down, name="orders"))))

    assert lines[0].endswith(" payments  5m 3/120 dup 2.5% (0.9%-7.1%)  1h no operations")
    assert lines[1].endswith(" orders  down (1 failed poll(s)); last numbers kept")
    assert all(len(line) <= 100 for line in lines)


def test_a_ledger_keeps_the_rates_of_its_last_polls_bounded_and_the_page_plots_them() -> None:
    status = LedgerStatus("payments", False)
    for poll in range(HISTORY_POLLS + 5):
        stats = WindowStats("5m", 300, 10, 10, poll % 3, poll % 3, (poll % 3) / 10, 0.0, 0.5, ())
        status = status.succeeded(float(poll), (stats,))
    status = status.failed("ledgers.payments.query: gone")  # a failed poll adds no point

    assert len(status.history) == HISTORY_POLLS
    assert [point.t for point in status.history[:2]] == [5.0, 6.0]  # the oldest dropped first
    assert status.history[-1] == RatePoint(HISTORY_POLLS + 4.0, "5m", status.windows[0].duplicate_rate,
                                           0.0, 0.5, 10)  # fmt: skip
    page = render_snapshot_html(WatchSnapshot(HISTORY_POLLS + 5.0, 15, HISTORY_POLLS + 6, False, (status,)))
    assert page.count("<svg") == 1 and "minutes before this snapshot" in page and "5m window" in page
