"""A cell's tally (the live metrics' counts) from histories: counted by hand, agreeing with the checker's
own numbers, and never running back as the history grows."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checker import check
from harness.history import (
    AttemptEnd,
    AttemptOutcome,
    AttemptStart,
    CrashEvent,
    Event,
    FaultEvent,
    OpEnd,
    OpStart,
    read_history,
)
from harness.ledger import Effect
from harness.tally import CellTally
from harness.verdict import CellVerdict
from tests.checker.history_cells import write_new_cell

TIMEOUT = "ReadTimeout: timed out"
RESET = "RemoteProtocolError: connection reset by peer"


def _attempt(
    op_id: str,
    number: int,
    t: float,
    outcome: AttemptOutcome,
    status: int | None,
    error: str | None = None,
    twin_of: int | None = None,
) -> list[Event]:
    return [
        AttemptStart(t=t, op_id=op_id, attempt=number, twin_of=twin_of),
        AttemptEnd(t=t + 0.1, op_id=op_id, attempt=number, outcome=outcome, status=status, error=error),
    ]


def _hand_made() -> tuple[list[Event], list[Effect]]:
    """Five operations whose counts a reader can tally by hand (see the test)."""
    events: list[Event] = [
        FaultEvent(t=0.0, name="latency", action="on"),  # every attempt while it is on is hit
        # a: timed out, retried, acknowledged; the target charged it twice
        OpStart(t=0.1, op_id="a"),
        *_attempt("a", 1, 0.2, "info", None, TIMEOUT),
        *_attempt("a", 2, 0.4, "ok", 201),
        OpEnd(t=0.6, op_id="a", outcome="acknowledged", attempts=2, status=201),
        # b: rejected at once
        OpStart(t=1.0, op_id="b"),
        *_attempt("b", 1, 1.1, "fail", 409),
        OpEnd(t=1.3, op_id="b", outcome="rejected", attempts=1, status=409),
        # c: reset, the client gave up
        OpStart(t=2.0, op_id="c"),
        *_attempt("c", 1, 2.1, "info", None, RESET),
        OpEnd(t=2.3, op_id="c", outcome="unknown", attempts=1),
        # d: doubly submitted (a twin is no retry), acknowledged
        OpStart(t=3.0, op_id="d"),
        *_attempt("d", 1, 3.1, "ok", 201),
        *_attempt("d", 2, 3.1, "ok", 201, twin_of=1),
        OpEnd(t=3.3, op_id="d", outcome="acknowledged", attempts=2, status=201),
        # e: sent, never answered, never ended
        OpStart(t=4.0, op_id="e"),
        AttemptStart(t=4.1, op_id="e", attempt=1),
        CrashEvent(t=4.2, reason="kill"),
        FaultEvent(t=5.0, name="latency", action="off"),
    ]
    effects = [Effect("a", "ch_1"), Effect("a", "ch_2"), Effect("d", "ch_3")]
    return sorted(events, key=lambda event: event.t), effects


def test_the_tally_of_a_hand_made_history() -> None:
    events, effects = _hand_made()

    verdict = check(events, effects, variant="naive", fault="latency")
    tally = verdict.tallies

    assert tally.operations == {"acknowledged": 2, "failed": 1, "gave_up": 1}
    assert tally.unfinished == 1
    answered = {"201": 3, "409": 1}
    assert tally.attempts == {"answered": answered, "connection": {"none": 1}, "timeout": {"none": 1}}
    assert tally.retries == {"timeout": {"none": 1}}
    assert (tally.duplicate_effects, tally.duplicated_operations) == (1, 1)
    assert tally.exposed_operations == 5  # every operation had an attempt while the toxic was on
    assert tally.duplicate_rate == pytest.approx(1 / 5)
    assert tally.crashes == 1


def test_the_tally_agrees_with_the_checkers_numbers() -> None:
    events, effects = _hand_made()

    verdict = check(events, effects, variant="naive", fault="latency")

    _assert_agrees(verdict)


def test_a_cell_that_hit_nothing_has_a_duplicate_rate_of_zero() -> None:
    assert CellTally(duplicated_operations=3).duplicate_rate == 0.0


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=True))
def test_on_random_cells_the_tally_agrees_and_only_grows(cells_folder: Path, rng: Random) -> None:
    cell = write_new_cell(rng, cells_folder)
    events = read_history(cell.paths)
    cut = rng.uniform(0.0, 6.0)
    so_far = [event for event in events if event.t <= cut]  # a look while the load ran

    whole = check(events, cell.effects, variant="v", fault="f", expect=cell.expect, context_s=cell.context_s)
    earlier = check(so_far, cell.effects, variant="v", fault="f", expect=cell.expect)

    _assert_agrees(whole)
    _assert_agrees(earlier)
    for name, count in _counters(earlier.tallies).items():
        assert count <= _counters(whole.tallies).get(name, 0), name


def _assert_agrees(verdict: CellVerdict) -> None:
    """The tally's counts are the checker's: the same operations, answers, duplicates and crashes."""
    tally = verdict.tallies
    assert tally.operations["acknowledged"] == verdict.acknowledged
    assert tally.operations["failed"] == verdict.rejected
    assert tally.operations["gave_up"] + tally.unfinished == verdict.unknown
    assert sum(tally.operations.values()) + tally.unfinished == verdict.operations
    assert sum(_flat(tally.attempts).values()) == sum(verdict.answers.values())
    assert sum(_flat(tally.retries).values()) <= verdict.retries
    assert tally.duplicate_effects == verdict.number("extra_effects")
    assert tally.duplicated_operations == verdict.number("ops_with_duplicates")
    assert tally.exposed_operations == verdict.number("exposed_ops")
    assert tally.crashes == verdict.crashes


def _flat(counts: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {f"{kind} {status}": n for kind, statuses in counts.items() for status, n in statuses.items()}


def _counters(tally: CellTally) -> dict[str, int]:
    """The tally's counts that the series export as counters (they must never run back)."""
    return {
        **{f"operations {outcome}": n for outcome, n in tally.operations.items()},
        **{f"attempts {key}": n for key, n in _flat(tally.attempts).items()},
        **{f"retries {key}": n for key, n in _flat(tally.retries).items()},
        "crashes": tally.crashes,
    }
