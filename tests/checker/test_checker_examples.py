"""The checker on hand-built histories whose right answers can be counted by hand."""

from __future__ import annotations

import gc
import math
import time
from dataclasses import dataclass

import pytest

from harness.checker import MAX_ANOMALIES_PER_KIND, check, check_safe
from harness.effects import Effect
from harness.history import (
    AttemptEnd,
    AttemptOutcome,
    AttemptStart,
    CrashEvent,
    Event,
    FaultEvent,
    OpEnd,
    OpOutcome,
    OpStart,
    RestartEvent,
)
from harness.verdict import Interval


@dataclass(frozen=True)
class Try:
    """One attempt as the client saw it; the builder lays attempts end to end in time."""

    outcome: AttemptOutcome
    status: int | None = None
    resource_id: str | None = None
    error: str | None = None
    latency_s: float = 0.1


def operation(op_id: str, t0: float, *tries: Try, outcome: OpOutcome | None = None) -> list[Event]:
    """Events of one op starting at ``t0``: OpStart, each attempt, then OpEnd unless ``outcome`` is None."""
    events: list[Event] = [OpStart(t=t0, op_id=op_id)]
    t = t0 + 0.01
    for number, attempt in enumerate(tries, start=1):
        events.append(AttemptStart(t=t, op_id=op_id, attempt=number))
        t += attempt.latency_s
        events.append(
            AttemptEnd(
                t=t,
                op_id=op_id,
                attempt=number,
                outcome=attempt.outcome,
                status=attempt.status,
                resource_id=attempt.resource_id,
                error=attempt.error,
                latency_s=attempt.latency_s,
            )
        )
    if outcome is not None:
        last = tries[-1] if tries else None
        events.append(
            OpEnd(
                t=t + 0.001,
                op_id=op_id,
                outcome=outcome,
                attempts=len(tries),
                status=last.status if last else None,
                resource_id=last.resource_id if last else None,
            )
        )
    return events


def history(*parts: list[Event] | Event) -> list[Event]:
    events: list[Event] = []
    for part in parts:
        events.extend(part if isinstance(part, list) else [part])
    return sorted(events, key=lambda event: event.t)


def ok(resource_id: str, status: int = 201, latency_s: float = 0.1) -> Try:
    return Try("ok", status=status, resource_id=resource_id, latency_s=latency_s)


TIMEOUT = Try("info", error="ReadTimeout: timed out", latency_s=0.5)
RESET = Try("info", error="ConnectionResetError: [Errno 104] Connection reset by peer", latency_s=0.02)


def test_a_clean_run_is_valid_with_exact_counts() -> None:
    events = history(
        operation("a", 0.0, ok("ch_1"), outcome="acknowledged"),
        operation("b", 1.0, ok("ch_2"), outcome="acknowledged"),
        operation("c", 2.0, Try("fail", status=422, latency_s=0.05), outcome="rejected"),
    )
    effects = [Effect("a", "ch_1", t=0.05), Effect("b", "ch_2", t=1.05)]

    verdict = check(events, effects, variant="naive", fault="none")

    assert (verdict.variant, verdict.fault) == ("naive", "none")
    assert (verdict.operations, verdict.attempts, verdict.retries) == (3, 3, 0)
    assert (verdict.acknowledged, verdict.rejected, verdict.unknown) == (2, 1, 0)
    assert verdict.ops_with_duplicates == 0
    assert verdict.duplicate_rate == 0.0
    assert verdict.duplicate_rate_interval.low == 0.0
    assert verdict.duplicate_rate_interval.high == pytest.approx(0.5615, abs=1e-4)
    assert (verdict.extra_effects, verdict.extra_effects_per_1000) == (0, 0.0)
    assert (verdict.lost_acknowledged, verdict.replay_mismatches, verdict.orphan_effects) == (0, 0, 0)
    assert verdict.validity == "valid"
    assert verdict.anomalies == ()
    assert verdict.attempt_latencies_s == (0.1, 0.1, 0.05)
    assert verdict.effect_times == (0.05, 1.05)
    assert verdict.error is None


def test_a_dropped_response_retried_into_a_duplicate() -> None:
    drop = FaultEvent(t=0.3, name="drop_response", action="fire", detail="reset after upstream sent")
    too_early = FaultEvent(t=-1.5, name="latency", action="on")
    too_late = CrashEvent(t=3.0, reason="kill")
    events = history(
        too_early,
        operation("a", 0.0, TIMEOUT, RESET, ok("ch_12"), outcome="acknowledged"),
        drop,
        too_late,
    )
    effects = [Effect("a", "ch_9"), Effect("a", "ch_12")]

    verdict = check(events, effects, variant="naive", fault="drop")

    assert (verdict.operations, verdict.attempts, verdict.retries) == (1, 3, 2)
    assert (verdict.ops_with_duplicates, verdict.extra_effects) == (1, 1)
    assert verdict.duplicate_rate == 1.0
    assert verdict.extra_effects_per_1000 == 1000.0
    assert verdict.validity == "invalid"
    assert verdict.crashes == 1
    assert verdict.fault_events == (too_early, drop, too_late)
    (anomaly,) = verdict.anomalies
    assert anomaly.kind == "duplicate_effect"
    assert anomaly.op_id == "a"
    assert anomaly.effect_count == 2
    assert anomaly.resource_ids == ("ch_9", "ch_12")
    assert [attempt.attempt for attempt in anomaly.attempts] == [1, 2, 3]
    assert all(isinstance(attempt, AttemptEnd) for attempt in anomaly.attempts)
    # first attempt at 0.01, OpEnd at 0.641: the window is [-0.99, 1.641]
    assert anomaly.nearby_faults == (drop,)
    assert anomaly.explanation == (
        "3 attempts: attempt 1 timed out after 0.50 s, attempt 2 connection reset, "
        "attempt 3 → 201 ch_12; the target committed 2 effects (ch_9, ch_12)"
    )


def test_context_s_widens_the_window_of_nearby_faults() -> None:
    early = FaultEvent(t=-1.5, name="latency", action="on")
    events = history(early, operation("a", 0.0, ok("ch_1"), outcome="acknowledged"))
    effects = [Effect("a", "ch_1"), Effect("a", "ch_2")]

    assert check(events, effects, variant="v", fault="f").anomalies[0].nearby_faults == ()
    wide = check(events, effects, variant="v", fault="f", context_s=2.0)
    assert wide.anomalies[0].nearby_faults == (early,)


def test_a_lost_acknowledged_op_is_data_loss() -> None:
    events = history(
        operation("a", 0.0, ok("ch_1"), outcome="acknowledged"),
        operation("b", 1.0, ok("ch_2"), outcome="acknowledged"),
    )
    verdict = check(events, [Effect("b", "ch_2")], variant="naive", fault="crash")

    assert verdict.lost_acknowledged == 1
    assert verdict.ops_with_duplicates == 0
    assert verdict.validity == "invalid"
    (anomaly,) = verdict.anomalies
    assert (anomaly.kind, anomaly.op_id, anomaly.effect_count, anomaly.resource_ids) == (
        "lost_acknowledged",
        "a",
        0,
        (),
    )
    assert anomaly.explanation == (
        "1 attempt: attempt 1 → 201 ch_1; the client was told it succeeded (201 ch_1) "
        "but the target committed no effect"
    )


def test_an_unacknowledged_op_without_effect_is_not_lost() -> None:
    events = history(operation("a", 0.0, TIMEOUT, TIMEOUT, outcome="unknown"))
    verdict = check(events, [], variant="naive", fault="latency")
    assert (verdict.lost_acknowledged, verdict.unknown, verdict.retries) == (0, 1, 1)
    assert verdict.validity == "valid"


def test_a_replay_with_a_different_resource_is_a_mismatch() -> None:
    events = history(
        operation(
            "a",
            0.0,
            ok("ch_1"),
            RESET,
            Try("info", status=503, latency_s=0.01),
            ok("ch_2"),
            outcome="acknowledged",
        ),
    )
    verdict = check(events, [Effect("a", "ch_1")], variant="idempotent", fault="drop")

    assert verdict.replay_mismatches == 1
    assert verdict.ops_with_duplicates == 0
    assert verdict.validity == "invalid"
    (anomaly,) = verdict.anomalies
    assert anomaly.kind == "replay_mismatch"
    assert anomaly.explanation == (
        "4 attempts: attempt 1 → 201 ch_1, attempt 2 connection reset, attempt 3 → 503, "
        "attempt 4 → 201 ch_2; attempt 1 answered 201 ch_1 but attempt 4 answered 201 ch_2; "
        "the target committed 1 effect"
    )


@pytest.mark.parametrize(
    ("tries", "mismatches"),
    [
        ((ok("ch_1"), ok("ch_1")), 0),  # a faithful replay
        ((ok("ch_1", status=201), ok("ch_1", status=200)), 1),  # same resource, other status
        ((ok("ch_1"), Try("fail", status=409, resource_id="ch_x")), 0),  # a refusal is not a replay
        ((Try("ok", status=302, resource_id="x"), ok("ch_1")), 0),  # only 2xx answers count
        ((ok("ch_1"), ok("ch_1"), ok("ch_3")), 1),  # compared with the first, counted once per op
    ],
)
def test_what_counts_as_a_replay_mismatch(tries: tuple[Try, ...], mismatches: int) -> None:
    events = history(operation("a", 0.0, *tries, outcome="acknowledged"))
    verdict = check(events, [Effect("a", "ch_1")], variant="idempotent", fault="drop")
    assert verdict.replay_mismatches == mismatches


def test_an_op_without_op_end_counts_as_unknown() -> None:
    events = history(
        operation("a", 0.0, ok("ch_1"), outcome="acknowledged"),
        operation("b", 1.0, TIMEOUT, outcome=None),
        AttemptStart(t=1.6, op_id="b", attempt=2),
    )
    effects = [Effect("a", "ch_1"), Effect("b", "ch_2"), Effect("b", "ch_3")]
    restart = RestartEvent(t=2.5, downtime_s=0.4)
    verdict = check(history(events, restart), effects, variant="naive", fault="crash")

    assert (verdict.operations, verdict.acknowledged, verdict.rejected, verdict.unknown) == (2, 1, 0, 1)
    assert (verdict.attempts, verdict.retries) == (3, 1)
    (anomaly,) = verdict.anomalies
    # no OpEnd: the window ends at the op's last event (1.6) plus context, so the restart at 2.5 is kept
    assert anomaly.nearby_faults == (restart,)
    assert anomaly.explanation == (
        "2 attempts: attempt 1 timed out after 0.50 s, 1 without a recorded answer; "
        "the target committed 2 effects (ch_2, ch_3)"
    )


def test_an_orphan_effect_is_reported_but_not_a_duplicate() -> None:
    events = history(operation("a", 0.0, ok("ch_1"), outcome="acknowledged"))
    effects = [Effect("a", "ch_1"), Effect("stranger", "ch_x"), Effect("stranger", "ch_y")]
    verdict = check(events, effects, variant="naive", fault="none")

    assert verdict.orphan_effects == 2
    assert (verdict.ops_with_duplicates, verdict.extra_effects) == (0, 0)
    assert verdict.validity == "valid"


def test_client_events_of_an_op_that_never_started_are_attempts_but_not_operations() -> None:
    events = history(
        AttemptStart(t=0.0, op_id="ghost", attempt=1),
        AttemptEnd(t=0.1, op_id="ghost", attempt=1, outcome="ok", status=201, latency_s=0.1),
        OpEnd(t=0.2, op_id="ghost", outcome="acknowledged", attempts=1),
    )
    verdict = check(events, [], variant="naive", fault="none")
    assert (verdict.operations, verdict.attempts, verdict.retries, verdict.acknowledged) == (0, 1, 0, 0)
    assert verdict.lost_acknowledged == 0
    assert verdict.attempt_latencies_s == (0.1,)


def test_an_empty_history() -> None:
    verdict = check([], [], variant="naive", fault="none")
    assert (verdict.operations, verdict.attempts, verdict.retries) == (0, 0, 0)
    assert (verdict.acknowledged, verdict.rejected, verdict.unknown) == (0, 0, 0)
    assert verdict.duplicate_rate == 0.0
    assert verdict.duplicate_rate_interval == Interval(0.0, 1.0)
    assert verdict.extra_effects_per_1000 == 0.0
    assert verdict.validity == "valid"
    assert verdict.anomalies == ()
    assert verdict.fault_events == ()
    assert verdict.effect_times == ()


def test_faults_crashes_restarts_and_effect_times_are_collected() -> None:
    on = FaultEvent(t=0.0, name="latency", action="on")
    crash = CrashEvent(t=1.0, reason="failpoint", detail="after_commit_before_response")
    restart = RestartEvent(t=1.5, downtime_s=0.5)
    crash_again = CrashEvent(t=2.0, reason="kill")
    events = history(on, crash, restart, crash_again)
    effects = [Effect("x", "r1", t=3.0), Effect("x", "r2"), Effect("x", "r3", t=0.5)]

    verdict = check(events, effects, variant="naive", fault="crash")

    assert verdict.crashes == 2
    assert verdict.fault_events == (on, crash, restart, crash_again)
    assert verdict.effect_times == (0.5, 3.0)
    assert verdict.orphan_effects == 3


def test_anomalies_are_sorted_by_kind_then_time_and_capped_per_kind() -> None:
    duplicated = MAX_ANOMALIES_PER_KIND + 50
    parts: list[list[Event] | Event] = []
    effects: list[Effect] = []
    # later ops first, so sorting by time is what puts them in order
    for index in reversed(range(duplicated)):
        parts.append(operation(f"dup{index:04d}", 10.0 + index, ok(f"d{index}"), outcome="acknowledged"))
        effects += [Effect(f"dup{index:04d}", f"d{index}"), Effect(f"dup{index:04d}", f"d{index}b")]
    parts.append(operation("lost", 5.0, ok("l"), outcome="acknowledged"))
    parts.append(operation("both", 1.0, ok("m1"), ok("m2"), outcome="acknowledged"))
    effects += [Effect("both", "m1"), Effect("both", "m2")]

    verdict = check(history(*parts), effects, variant="naive", fault="drop")

    assert verdict.ops_with_duplicates == duplicated + 1
    assert verdict.extra_effects == duplicated + 1
    assert (verdict.lost_acknowledged, verdict.replay_mismatches) == (1, 1)
    kinds = [anomaly.kind for anomaly in verdict.anomalies]
    assert kinds == ["duplicate_effect"] * MAX_ANOMALIES_PER_KIND + ["lost_acknowledged", "replay_mismatch"]
    kept = [anomaly.op_id for anomaly in verdict.anomalies[:MAX_ANOMALIES_PER_KIND]]
    assert kept == ["both"] + [f"dup{index:04d}" for index in range(MAX_ANOMALIES_PER_KIND - 1)]
    assert verdict.anomalies[-1].op_id == "both"


def test_check_safe_turns_an_exception_into_unknown() -> None:
    events = history(operation("a", 0.0, ok("ch_1"), outcome="acknowledged"))
    broken_effects: list[Effect] = [None]  # type: ignore[list-item]

    verdict = check_safe(events, broken_effects, variant="naive", fault="drop")

    assert verdict.validity == "unknown"
    assert verdict.error == "AttributeError: 'NoneType' object has no attribute 'op_ref'"
    assert (verdict.variant, verdict.fault) == ("naive", "drop")
    assert (verdict.operations, verdict.attempts, verdict.acknowledged, verdict.checks) == (0, 0, 0, ())
    assert math.isnan(verdict.ops_with_duplicates) and math.isnan(verdict.number("duplicate_rate"))
    assert verdict.duplicate_rate_interval == Interval(0.0, 1.0)
    assert verdict.anomalies == ()


def test_check_safe_reports_a_bad_argument_and_otherwise_equals_check() -> None:
    events = history(operation("a", 0.0, ok("ch_1"), outcome="acknowledged"))
    effects = [Effect("a", "ch_1"), Effect("a", "ch_2")]
    refused = check_safe(events, effects, variant="v", fault="f", context_s=-1.0)
    assert refused.error == "ValueError: context_s must be >= 0, got -1.0"
    assert check_safe(events, effects, variant="v", fault="f") == check(
        events, effects, variant="v", fault="f"
    )


def drops_every_tenth(operations: int) -> tuple[list[Event], list[Effect]]:
    """``operations`` acknowledged ops, 0.01 s apart; every tenth took effect twice under a fired fault."""
    parts: list[list[Event] | Event] = []
    effects: list[Effect] = []
    for index in range(operations):
        op_id = f"op{index}"
        parts.append(operation(op_id, index * 0.01, ok(f"r{index}", latency_s=0.005), outcome="acknowledged"))
        effects.append(Effect(op_id, f"r{index}", t=index * 0.01))
        if index % 10 == 0:
            effects.append(Effect(op_id, f"r{index}b"))
            parts.append(FaultEvent(t=index * 0.01 + 0.001, name="drop", action="fire"))
    return history(*parts), effects


def cpu_seconds_to_check(events: list[Event], effects: list[Effect]) -> float:
    """The CPU time this thread spent checking: time other processes held the CPU is not counted."""
    gc.collect()
    gc.disable()  # a collection landing in one measurement and not the other is noise, not complexity
    try:
        started = time.thread_time()
        check(events, effects, variant="naive", fault="drop")
        return time.thread_time() - started
    finally:
        gc.enable()


def test_a_hundred_thousand_events_check_in_linear_time() -> None:
    """Four times the history costs about four times the CPU (a quadratic checker: sixteen). A ratio
    measured on one machine, so it holds on a fast one, a slow one and a busy one alike."""
    small, large = drops_every_tenth(6_250), drops_every_tenth(25_000)
    assert len(large[0]) >= 100_000

    verdict = check(*large, variant="naive", fault="drop")

    assert verdict.operations == 25_000
    assert verdict.ops_with_duplicates == 2_500
    assert verdict.duplicate_rate == 0.1
    assert verdict.extra_effects_per_1000 == 100.0
    assert len(verdict.anomalies) == MAX_ANOMALIES_PER_KIND
    before = cpu_seconds_to_check(*small)
    large_s = cpu_seconds_to_check(*large)
    small_s = max(before, cpu_seconds_to_check(*small))  # before and after: the machine may have changed
    assert large_s < 8 * small_s, f"{large_s:.3f} s for 4x the events of {small_s:.3f} s"


def test_a_cell_says_how_its_attempts_were_answered_and_how_its_operations_ended() -> None:
    server_error = Try("info", status=500, latency_s=0.02)
    events = history(
        operation("a", 0.0, TIMEOUT, RESET, ok("ch_1"), outcome="acknowledged"),
        operation("b", 1.0, server_error, server_error, server_error, outcome="unknown"),
        operation("c", 2.0, TIMEOUT, ok("ch_3"), outcome="acknowledged"),
        operation("d", 3.0, Try("fail", status=422, latency_s=0.05), outcome="rejected"),
        operation("e", 4.0, TIMEOUT),  # the client never finished it
    )

    verdict = check(events, [Effect("a", "ch_1"), Effect("c", "ch_3")], variant="v", fault="f")

    assert verdict.answers == {"500": 3, "timeout": 3, "201": 2, "reset": 1, "422": 1}
    # most frequent first, ties in the order first seen
    assert list(verdict.answers) == ["timeout", "500", "201", "reset", "422"]
    ended = {"acknowledged 201": 2, "unknown 500": 1, "rejected 422": 1, "unknown": 1}
    assert verdict.final_outcomes == ended
