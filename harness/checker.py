"""The checker: reconciles what the client saw (the history) with what the target did (its effects).

It is a pure function, as Jepsen's checkers are: no I/O, no clock, no randomness. The same history
and effects always give the same :class:`~harness.verdict.CellVerdict`, so a verdict can be
recomputed from a run's evidence files and unit-tested on hand-made histories.

What it counts (see DESIGN.md, "What the checker counts"):

* operations (distinct ``OpStart`` ids), attempts, retries and the client outcome of each operation;
* duplicate effects: operations the target committed two or more times (the number this tool exists
  for), with a 95% Wilson interval on their rate;
* lost acknowledged operations: the client was told "done" and the target has no effect (data loss);
* replay mismatches: two successful answers to one operation that disagree on status or resource id;
* orphan effects: effects whose op reference matches no operation of the history.

Each anomalous operation keeps its attempts and the fault events around it, so a report can tell
its story. :func:`check_safe` turns any exception into an ``unknown`` verdict rather than a crash,
because one broken cell must not lose the evidence of all the others.

The work is one pass over the events and one over the effects, with dicts keyed by op id; nearby
faults are found by bisecting the sorted fault times, so 100k events check in well under a second.
"""

from __future__ import annotations

import dataclasses
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from harness.effects import Effect
from harness.history import (
    AttemptEnd,
    AttemptStart,
    CrashEvent,
    Event,
    FaultEvent,
    OpEnd,
    OpStart,
    RestartEvent,
)
from harness.stats import wilson_interval
from harness.verdict import ANOMALY_KINDS, Anomaly, AnomalyKind, CellVerdict, Validity

MAX_ANOMALIES_PER_KIND = 200
"""Anomalies kept per kind; the counts stay exact. A report needs examples, not 50,000 of them."""


FaultLike = FaultEvent | CrashEvent | RestartEvent


@dataclass(slots=True)
class _OpTrace:
    """What the history says about one operation, gathered in the single pass over events."""

    op_id: str
    start_t: float
    first_attempt_t: float | None = None
    last_event_t: float = 0.0
    attempt_starts: int = 0
    attempt_ends: list[AttemptEnd] = field(default_factory=list)
    end: OpEnd | None = None


@dataclass(slots=True)
class _Scan:
    """The result of the pass over events: per-op traces plus the run-wide tallies."""

    ops: dict[str, _OpTrace] = field(default_factory=dict)
    attempts: int = 0
    ops_with_attempts: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    faults: list[FaultLike] = field(default_factory=list)
    crashes: int = 0


def check(
    events: Sequence[Event],
    effects: Sequence[Effect],
    *,
    variant: str,
    fault: str,
    context_s: float = 1.0,
) -> CellVerdict:
    """Reconcile one cell's history with its effects into a verdict.

    ``events`` must be sorted by time (as :func:`harness.history.read_history` returns them);
    ``context_s`` widens the window of fault events kept with each anomaly on both sides.
    """
    if context_s < 0:
        raise ValueError(f"context_s must be >= 0, got {context_s}")
    scan = _scan_events(events)
    ops = scan.ops

    effects_by_op: dict[str, list[Effect]] = {}
    orphan_effects = 0
    for effect in effects:
        if effect.op_ref in ops:
            effects_by_op.setdefault(effect.op_ref, []).append(effect)
        else:
            orphan_effects += 1
    effect_times = tuple(sorted(effect.t for effect in effects if effect.t is not None))

    acknowledged = rejected = unknown = 0
    lost_acknowledged = replay_mismatches = ops_with_duplicates = extra_effects = 0
    flagged: dict[AnomalyKind, list[_OpTrace]] = {
        "duplicate_effect": [],
        "lost_acknowledged": [],
        "replay_mismatch": [],
    }
    for trace in ops.values():
        outcome = trace.end.outcome if trace.end is not None else "unknown"
        if outcome == "acknowledged":
            acknowledged += 1
        elif outcome == "rejected":
            rejected += 1
        else:
            unknown += 1
        effect_count = len(effects_by_op.get(trace.op_id, ()))
        if effect_count >= 2:
            ops_with_duplicates += 1
            extra_effects += effect_count - 1
            flagged["duplicate_effect"].append(trace)
        if outcome == "acknowledged" and effect_count == 0:
            lost_acknowledged += 1
            flagged["lost_acknowledged"].append(trace)
        if _replay_mismatch(trace.attempt_ends) is not None:
            replay_mismatches += 1
            flagged["replay_mismatch"].append(trace)

    operations = len(ops)
    fault_events = tuple(sorted(scan.faults, key=lambda event: event.t))
    fault_times = [event.t for event in fault_events]
    anomalies: list[Anomaly] = []
    for kind in sorted(flagged, key=ANOMALY_KINDS.index):
        kept = sorted(flagged[kind], key=lambda trace: (_first_time(trace), trace.op_id))
        for trace in kept[:MAX_ANOMALIES_PER_KIND]:
            op_effects = effects_by_op.get(trace.op_id, [])
            anomalies.append(
                Anomaly(
                    kind=kind,
                    op_id=trace.op_id,
                    effect_count=len(op_effects),
                    resource_ids=tuple(effect.resource_id for effect in op_effects),
                    attempts=tuple(trace.attempt_ends),
                    nearby_faults=_nearby(trace, fault_events, fault_times, context_s),
                    explanation=_explain(kind, trace, op_effects),
                )
            )

    validity: Validity = (
        "invalid" if ops_with_duplicates or lost_acknowledged or replay_mismatches else "valid"
    )
    return CellVerdict(
        variant=variant,
        fault=fault,
        operations=operations,
        attempts=scan.attempts,
        retries=scan.attempts - len(scan.ops_with_attempts),
        acknowledged=acknowledged,
        rejected=rejected,
        unknown=unknown,
        ops_with_duplicates=ops_with_duplicates,
        duplicate_rate=ops_with_duplicates / operations if operations else 0.0,
        duplicate_rate_interval=wilson_interval(ops_with_duplicates, operations),
        extra_effects=extra_effects,
        extra_effects_per_1000=extra_effects * 1000 / operations if operations else 0.0,
        lost_acknowledged=lost_acknowledged,
        replay_mismatches=replay_mismatches,
        orphan_effects=orphan_effects,
        validity=validity,
        anomalies=tuple(anomalies),
        attempt_latencies_s=tuple(scan.latencies),
        crashes=scan.crashes,
        fault_events=fault_events,
        effect_times=effect_times,
    )


def check_safe(
    events: Sequence[Event],
    effects: Sequence[Effect],
    *,
    variant: str,
    fault: str,
    context_s: float = 1.0,
) -> CellVerdict:
    """:func:`check`, but an exception inside it becomes an ``unknown`` verdict naming the error.

    Jepsen's ``check-safe``: a bug in the checker, or a history it cannot make sense of, must not
    crash a run whose other cells are fine; ``unknown`` tells the gate and the reader exactly that.
    """
    try:
        return check(events, effects, variant=variant, fault=fault, context_s=context_s)
    except Exception as error:  # turning every failure into "unknown" is the point
        return dataclasses.replace(
            CellVerdict.empty(variant, fault),
            validity="unknown",
            error=f"{type(error).__name__}: {error}",
        )


def _scan_events(events: Sequence[Event]) -> _Scan:
    """One pass over the history, building per-op traces and run-wide tallies.

    Client events for an op id that had no ``OpStart`` still count as attempts and latencies (they
    happened), but they do not create an operation: operations are what the client began.
    """
    scan = _Scan()
    ops = scan.ops
    for event in events:
        if isinstance(event, OpStart):
            if event.op_id not in ops:
                ops[event.op_id] = _OpTrace(op_id=event.op_id, start_t=event.t, last_event_t=event.t)
        elif isinstance(event, AttemptStart):
            scan.attempts += 1
            scan.ops_with_attempts.add(event.op_id)
            trace = ops.get(event.op_id)
            if trace is not None:
                trace.attempt_starts += 1
                if trace.first_attempt_t is None:
                    trace.first_attempt_t = event.t
                trace.last_event_t = max(trace.last_event_t, event.t)
        elif isinstance(event, AttemptEnd):
            scan.latencies.append(event.latency_s)
            trace = ops.get(event.op_id)
            if trace is not None:
                trace.attempt_ends.append(event)
                trace.last_event_t = max(trace.last_event_t, event.t)
        elif isinstance(event, OpEnd):
            trace = ops.get(event.op_id)
            if trace is not None:
                trace.end = event
                trace.last_event_t = max(trace.last_event_t, event.t)
        elif isinstance(event, CrashEvent):
            scan.crashes += 1
            scan.faults.append(event)
        elif isinstance(event, FaultEvent | RestartEvent):
            scan.faults.append(event)
    return scan


def _is_success(attempt: AttemptEnd) -> bool:
    return attempt.outcome == "ok" and attempt.status is not None and 200 <= attempt.status < 300


def _replay_mismatch(attempt_ends: Sequence[AttemptEnd]) -> tuple[AttemptEnd, AttemptEnd] | None:
    """The first successful answer and the first later one that disagrees with it, if any.

    An idempotent service must replay its first answer verbatim; a different status or resource id
    means a retry was treated as a new request somewhere, even if only one effect survived.
    """
    first: AttemptEnd | None = None
    for attempt in attempt_ends:
        if not _is_success(attempt):
            continue
        if first is None:
            first = attempt
        elif (attempt.status, attempt.resource_id) != (first.status, first.resource_id):
            return first, attempt
    return None


def _first_time(trace: _OpTrace) -> float:
    return trace.first_attempt_t if trace.first_attempt_t is not None else trace.start_t


def _nearby(
    trace: _OpTrace, fault_events: Sequence[FaultLike], fault_times: Sequence[float], context_s: float
) -> tuple[FaultLike, ...]:
    """Fault, crash and restart events from ``context_s`` before the op's first attempt to
    ``context_s`` after its end (or its last event, when the client never finished it)."""
    window_start = _first_time(trace) - context_s
    window_end = (trace.end.t if trace.end is not None else trace.last_event_t) + context_s
    low = bisect_left(fault_times, window_start)
    high = bisect_right(fault_times, window_end)
    return tuple(fault_events[low:high])


def _answer(attempt: AttemptEnd) -> str:
    """An attempt's answer in a few words: ``201 ch_12``, ``timed out after 0.50 s``, ``connection reset``."""
    if attempt.status is not None:
        return f"{attempt.status} {attempt.resource_id}" if attempt.resource_id else str(attempt.status)
    error = (attempt.error or "").strip()
    lowered = error.lower()
    if "timeout" in lowered or "timed out" in lowered:
        return f"timed out after {attempt.latency_s:.2f} s"
    if "reset" in lowered:
        return "connection reset"
    if "refused" in lowered:
        return "connection refused"
    if "closed" in lowered or "disconnect" in lowered or "eof" in lowered:
        return "connection closed without an answer"
    if error:
        return error
    return {"ok": "succeeded", "fail": "failed", "info": "no answer"}[attempt.outcome]


def _describe_attempt(attempt: AttemptEnd) -> str:
    answer = _answer(attempt)
    separator = " → " if attempt.status is not None else " "
    return f"attempt {attempt.attempt}{separator}{answer}"


def _effects_phrase(count: int) -> str:
    return f"{count} effect" if count == 1 else f"{count} effects"


def _explain(kind: AnomalyKind, trace: _OpTrace, op_effects: Sequence[Effect]) -> str:
    """The op's story in plain words, for a reader who has not seen the history.

    Example: ``3 attempts: attempt 1 timed out after 0.50 s, attempt 2 connection reset,
    attempt 3 → 201 ch_12; the target committed 2 effects (ch_9, ch_12)``.
    """
    count = max(trace.attempt_starts, len(trace.attempt_ends))
    parts = [_describe_attempt(attempt) for attempt in trace.attempt_ends]
    missing = count - len(trace.attempt_ends)
    if missing > 0:
        parts.append(f"{missing} without a recorded answer")
    head = f"{count} attempt{'' if count == 1 else 's'}"
    story = f"{head}: {', '.join(parts)}" if parts else head
    resource_ids = ", ".join(effect.resource_id for effect in op_effects)
    if kind == "duplicate_effect":
        return f"{story}; the target committed {_effects_phrase(len(op_effects))} ({resource_ids})"
    if kind == "lost_acknowledged":
        end = trace.end
        told = ""
        if end is not None and end.status is not None:
            told = f" ({end.status} {end.resource_id})" if end.resource_id else f" ({end.status})"
        return f"{story}; the client was told it succeeded{told} but the target committed no effect"
    mismatch = _replay_mismatch(trace.attempt_ends)
    if mismatch is None:  # pragma: no cover - only flagged ops reach here
        return story
    first, later = mismatch
    return (
        f"{story}; attempt {first.attempt} answered {_answer(first)} but attempt {later.attempt} "
        f"answered {_answer(later)}; the target committed {_effects_phrase(len(op_effects))}"
    )
