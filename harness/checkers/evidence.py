"""One cell's evidence, scanned once for every checker: operations with their attempts, and effects.

The scan is one pass over the events and one over the effects, with dicts keyed by op id; nearby faults
are found by bisecting the sorted fault times, so 100k events scan in well under a second. Checkers
read the result and never walk the raw history again.

Client events for an op id that had no ``OpStart`` still count as attempts and latencies (they
happened), but they do not create an operation: operations are what the client began. Effects whose op
reference matches no operation are *orphans*: counted, never attributed.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from harness.checkers.answers import answer_label
from harness.history import (
    AttemptEnd,
    AttemptStart,
    CrashEvent,
    CrashPlanEvent,
    Event,
    FaultEvent,
    OpEnd,
    OpOutcome,
    OpStart,
    RestartEvent,
    ToxicHit,
)
from harness.ledger import Effect
from harness.verdict import Anomaly, FaultLike

MAX_ANOMALIES_PER_KIND = 200
"""Anomalies kept per kind; the counts stay exact. A report needs examples, not 50,000 of them."""


@dataclass(slots=True)
class OpTrace:
    """What the history says about one operation."""

    op_id: str
    start_t: float
    first_attempt_t: float | None = None
    last_event_t: float = 0.0
    attempt_starts: int = 0
    attempt_ends: list[AttemptEnd] = field(default_factory=list)
    end: OpEnd | None = None
    started_at: dict[int, float] = field(default_factory=dict)
    """When each attempt was sent, by attempt number."""
    twins: int = 0
    """Attempts sent as the double submit of another (a doubled first attempt)."""

    def in_flight(self, moment: float) -> bool:
        """Whether an attempt of this op was sent by ``moment`` and not answered before it (an attempt
        never answered counts as in flight from its start on)."""
        ended = {attempt.attempt: attempt.t for attempt in self.attempt_ends}
        return any(
            sent <= moment and ended.get(number, moment) >= moment for number, sent in self.started_at.items()
        )

    def cut_off(self, moment: float, slack_s: float) -> bool:
        """Whether an attempt sent by ``moment`` lost its connection without an answer within ``slack_s``
        before it, or is still unanswered then: what a process that died just before ``moment`` does
        to the requests it was serving (a refused attempt was never sent, so it is not one of them)."""
        cut = {
            attempt.attempt
            for attempt in self.attempt_ends
            if attempt.outcome == "info"
            and attempt.status is None
            and moment - slack_s <= attempt.t <= moment
        }
        answered = {attempt.attempt for attempt in self.attempt_ends}
        return any(
            sent <= moment and (number in cut or number not in answered)
            for number, sent in self.started_at.items()
        )

    @property
    def outcome(self) -> OpOutcome:
        """The final outcome the client reported; ``unknown`` when it never finished the operation."""
        return self.end.outcome if self.end is not None else "unknown"

    @property
    def first_time(self) -> float:
        return self.first_attempt_t if self.first_attempt_t is not None else self.start_t


@dataclass(frozen=True)
class CellExpectations:
    """What the scenario meant the cell's fault to do, for the guards that keep a verdict honest.

    ``fault_acts``: the fault plans something that should hit operations (toxics, kills, failpoints,
    double submit, store latency); a baseline fault that plans nothing has no exposure to show.
    ``min_exposed``: operations the fault must have hit for the cell to be conclusive.
    ``min_acknowledged_rate``: the share of operations the target must have acknowledged.
    ``per_request_toxics``: names of toxics the proxy decides per request, whose hits it records with
    the operation they hit; any other toxic hits every attempt made while it was on.
    The defaults guard nothing: :func:`harness.checker.check` on a bare history judges only effects.
    """

    fault_acts: bool = False
    min_exposed: int = 0
    min_acknowledged_rate: float = 0.0
    per_request_toxics: frozenset[str] = frozenset()


@dataclass
class CellEvidence:
    """A cell's history and effects, organised for checkers (build it with :meth:`scan`)."""

    ops: dict[str, OpTrace] = field(default_factory=dict)
    attempts: int = 0
    ops_with_attempts: set[str] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    fault_events: tuple[FaultLike, ...] = ()
    crashes: int = 0
    effects_by_op: dict[str, list[Effect]] = field(default_factory=dict)
    orphan_effects: int = 0
    effect_times: tuple[float, ...] = ()
    context_s: float = 1.0
    expect: CellExpectations = field(default_factory=lambda: CellExpectations())
    toxic_hits: list[ToxicHit] = field(default_factory=list)
    crash_events: list[CrashEvent] = field(default_factory=list)
    crash_plan: CrashPlanEvent | None = None
    _fault_times: list[float] = field(default_factory=list)

    @classmethod
    def scan(
        cls,
        events: Sequence[Event],
        effects: Iterable[Effect],
        context_s: float = 1.0,
        expect: CellExpectations | None = None,
    ) -> CellEvidence:
        """Scan ``events`` (sorted by time, as :func:`harness.history.read_history` returns them) and
        ``effects``; ``context_s`` widens the window of fault events kept with each anomaly;
        ``expect`` says what the cell's fault was meant to do (no guard at all when not given)."""
        if context_s < 0:
            raise ValueError(f"context_s must be >= 0, got {context_s}")
        evidence = cls(context_s=context_s, expect=expect or CellExpectations())
        evidence._scan_events(events)
        evidence._attribute(effects)
        return evidence

    def _scan_events(self, events: Sequence[Event]) -> None:
        ops = self.ops
        faults: list[FaultLike] = []
        for event in events:
            if isinstance(event, OpStart):
                if event.op_id not in ops:
                    ops[event.op_id] = OpTrace(op_id=event.op_id, start_t=event.t, last_event_t=event.t)
            elif isinstance(event, AttemptStart):
                self.attempts += 1
                self.ops_with_attempts.add(event.op_id)
                trace = ops.get(event.op_id)
                if trace is not None:
                    trace.attempt_starts += 1
                    trace.started_at.setdefault(event.attempt, event.t)
                    trace.twins += event.twin_of is not None
                    if trace.first_attempt_t is None:
                        trace.first_attempt_t = event.t
                    trace.last_event_t = max(trace.last_event_t, event.t)
            elif isinstance(event, AttemptEnd):
                self.latencies.append(event.latency_s)
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
                self.crashes += 1
                self.crash_events.append(event)
                faults.append(event)
            elif isinstance(event, ToxicHit):
                self.toxic_hits.append(event)
            elif isinstance(event, CrashPlanEvent):
                self.crash_plan = event
            elif isinstance(event, FaultEvent | RestartEvent):
                faults.append(event)
        self.fault_events = tuple(sorted(faults, key=lambda event: event.t))
        self._fault_times = [event.t for event in self.fault_events]

    def _attribute(self, effects: Iterable[Effect]) -> None:
        times: list[float] = []
        for effect in effects:
            if effect.op_ref in self.ops:
                self.effects_by_op.setdefault(effect.op_ref, []).append(effect)
            else:
                self.orphan_effects += 1
            if effect.t is not None:
                times.append(effect.t)
        self.effect_times = tuple(sorted(times))

    @property
    def operations(self) -> int:
        return len(self.ops)

    @property
    def retries(self) -> int:
        return self.attempts - len(self.ops_with_attempts)

    def answer_counts(self) -> dict[str, int]:
        """How the attempts ended, most frequent first: ``{"201": 140, "timeout": 20, "500": 3}``."""
        tally = Counter(
            answer_label(attempt) for trace in self.ops.values() for attempt in trace.attempt_ends
        )
        return dict(tally.most_common())

    def final_outcome_counts(self) -> dict[str, int]:
        """How the operations ended, with their final status, most frequent first:
        ``{"acknowledged 201": 148, "unknown 500": 2, "unknown": 1}``."""
        tally = Counter(
            f"{trace.outcome} {trace.end.status}"
            if trace.end is not None and trace.end.status
            else trace.outcome
            for trace in self.ops.values()
        )
        return dict(tally.most_common())

    def outcome_counts(self) -> Mapping[OpOutcome, int]:
        """How many operations ended acknowledged, rejected and unknown."""
        counts: dict[OpOutcome, int] = {"acknowledged": 0, "rejected": 0, "unknown": 0}
        for trace in self.ops.values():
            counts[trace.outcome] += 1
        return counts

    def effects_of(self, op_id: str) -> list[Effect]:
        return self.effects_by_op.get(op_id, [])

    def nearby_faults(self, trace: OpTrace) -> tuple[FaultLike, ...]:
        """Fault, crash and restart events from ``context_s`` before the op's first attempt to
        ``context_s`` after its end (or its last event, when the client never finished it)."""
        window_start = trace.first_time - self.context_s
        window_end = (trace.end.t if trace.end is not None else trace.last_event_t) + self.context_s
        low = bisect_left(self._fault_times, window_start)
        high = bisect_right(self._fault_times, window_end)
        return tuple(self.fault_events[low:high])

    def anomalies(
        self, kind: str, flagged: Iterable[OpTrace], explain: Callable[[OpTrace, list[Effect]], str]
    ) -> tuple[Anomaly, ...]:
        """The first :data:`MAX_ANOMALIES_PER_KIND` of ``flagged`` (by first attempt) as anomalies,
        each with its effects, attempts, nearby faults and ``explain``'s story."""
        kept = sorted(flagged, key=lambda trace: (trace.first_time, trace.op_id))[:MAX_ANOMALIES_PER_KIND]
        return tuple(self._anomaly(kind, trace, explain) for trace in kept)

    def _anomaly(self, kind: str, trace: OpTrace, explain: Callable[[OpTrace, list[Effect]], str]) -> Anomaly:
        op_effects = self.effects_of(trace.op_id)
        return Anomaly(
            kind=kind,
            op_id=trace.op_id,
            effect_count=len(op_effects),
            resource_ids=tuple(effect.resource_id for effect in op_effects),
            attempts=tuple(trace.attempt_ends),
            nearby_faults=self.nearby_faults(trace),
            explanation=explain(trace, op_effects),
        )
