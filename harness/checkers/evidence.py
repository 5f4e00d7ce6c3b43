"""One cell's evidence, scanned once for every checker: operations with their attempts, and effects.

The scan is one pass over the history's compact records (:mod:`harness.records`, streamed from the
files or made from parsed events) and one over the effects, with a dict keyed by op id; nearby faults
are found by bisecting the sorted fault times. Each operation keeps only what a checker reads (its
answers as the records they were decoded into; its one answer, effect or attempt time held bare, a
list only beyond, and read through properties as sequences), so a million operations fit in under a
gigabyte. Checkers read the result and never walk the
raw history again.

Client events for an op id that had no ``OpStart`` still count as attempts and latencies (they
happened), but they do not create an operation: operations are what the client began. Effects whose op
reference matches no operation are *orphans*: counted, never attributed.

Beside them, the resource states read after the load (:mod:`harness.resource_states`), by op id, for
the checkers of the HTTP method contract: ``None`` when the cell has none (not read yet, or never);
and the sagas and ledgers read after the load (:mod:`harness.saga_evidence`), for the saga checkers.
"""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeAlias, TypeVar, cast

import msgspec

from harness.checkers.answers import answer_label
from harness.history import (
    AttemptOutcome,
    CrashEvent,
    CrashPlanEvent,
    Event,
    FaultEvent,
    OpOutcome,
    RestartEvent,
    ToxicHit,
)
from harness.ledger import Effect
from harness.records import (
    AttemptAnswer,
    AttemptSent,
    ClientRecord,
    FaultSideEvent,
    HistoryRecords,
    OpBegin,
    OpFinish,
    records_of,
)
from harness.resource_states import ResourceState
from harness.saga_evidence import SagaEvidence
from harness.verdict import Anomaly, FaultLike


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block. Building millions of small objects that hold
    no cycles makes the collector walk them all again and again (a third of a scan's time, for
    nothing); they are freed by reference counting either way."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


T = TypeVar("T")
AnswerKey: TypeAlias = int | tuple[str | None, AttemptOutcome]
"""What an answer's label depends on: its status, else its error and outcome."""

MAX_ANOMALIES_PER_KIND = 200
"""Anomalies kept per kind; the counts stay exact. A report needs examples, not 50,000 of them."""


def _labelled(tally: Mapping[AnswerKey, int], examples: Mapping[AnswerKey, AttemptAnswer]) -> Counter[str]:
    """Counts by answer key as counts by tally label: each key labelled once, by an answer it met."""
    labelled: Counter[str] = Counter()
    for met, times in tally.items():
        labelled[answer_label(examples[met])] += times
    return labelled


def _last_answer(trace: OpTrace) -> AttemptAnswer | None:
    """The latest answer the operation got so far (the one a retry sent now answers to)."""
    held = trace.held_ends
    if held is None or type(held) is not list:
        return held  # type: ignore[return-value]
    return held[-1]


class OpTrace(msgspec.Struct, gc=False):
    """What the history says about one operation (a million of these must fit in memory: no dict of
    its own unless its attempt numbers are unusual). A msgspec ``Struct``, not a dataclass: it is made
    in C, and the cyclic collector never walks a million of them (it holds no cycle: its fields hold
    numbers, strings, records and containers of those)."""

    op_id: str
    start_t: float
    first_attempt_t: float | None = None
    """When its first attempt was sent: the earliest sending of any attempt, as records come in time
    order (None while none was)."""
    last_event_t: float = 0.0
    attempt_starts: int = 0
    held_ends: AttemptAnswer | list[AttemptAnswer] | None = None
    """:attr:`attempt_ends`: the one answer most operations get, or a list once there are more."""
    end: OpFinish | None = None
    held_starts: list[float] | None = None
    """:attr:`starts`, once it is more than the first attempt's time (no list for the many operations
    sent once)."""
    odd_starts: dict[int, float] | None = None
    """When each attempt whose number broke that sequence was first sent."""
    twins: int = 0
    """Attempts sent as the double submit of another (a doubled first attempt)."""
    held_effects: Effect | list[Effect] | None = None
    """:attr:`effects`: the one most operations have, or a list once there are more."""

    @property
    def attempt_ends(self) -> Sequence[AttemptAnswer]:
        """Every answer, in time order."""
        held = self.held_ends
        if held is None:
            return ()
        return held if type(held) is list else (held,)  # type: ignore[return-value]

    @property
    def effects(self) -> Sequence[Effect] | None:
        """The effects attributed to this op, None when there are none."""
        held = self.held_effects
        if held is None:
            return None
        return held if type(held) is list else (held,)  # type: ignore[return-value]

    @property
    def starts(self) -> Sequence[float]:
        """When attempts 1, 2, ... were first sent, while they are numbered 1, 2, ... in order."""
        if self.held_starts is not None:
            return self.held_starts
        # nothing held: attempt 1 was sent first and alone, or nothing was (see the scan)
        return () if self.first_attempt_t is None else (self.first_attempt_t,)

    def started(self, attempt: int, t: float) -> None:
        """Record that ``attempt`` was sent at ``t``; only its first sending counts. (Called before
        :attr:`first_attempt_t` is set for the first attempt sent, unless it is attempt 1.)"""
        odd = self.odd_starts
        if odd is not None and attempt in odd:
            return
        starts = self.held_starts
        if starts is None:
            starts = self.held_starts = [] if self.first_attempt_t is None else [self.first_attempt_t]
        if attempt == len(starts) + 1:
            starts.append(t)
        elif not 1 <= attempt <= len(starts):
            self.odd_starts = odd = odd if odd is not None else {}
            odd.setdefault(attempt, t)

    def start_times(self) -> Iterator[tuple[int, float]]:
        """(attempt number, when it was first sent) for every attempt sent."""
        yield from enumerate(self.starts, start=1)
        if self.odd_starts is not None:
            yield from self.odd_starts.items()

    def sent_times(self) -> Sequence[float]:
        """When each attempt was first sent (in no particular order once attempt numbers are odd)."""
        if self.odd_starts is None:
            return self.starts
        return [t for _, t in self.start_times()]

    def first_sent(self) -> float | None:
        """When the first attempt was sent, None if none was."""
        return self.first_attempt_t

    def sent_between(self, start: float, end: float) -> bool:
        """Whether an attempt was first sent from ``start`` to ``end`` (both included)."""
        if self.odd_starts is None:
            starts = self.starts
            later = bisect_left(starts, start)
            return later < len(starts) and starts[later] <= end
        return any(start <= sent <= end for sent in self.sent_times())

    @property
    def started_at(self) -> dict[int, float]:
        """When each attempt was sent, by attempt number."""
        return dict(self.start_times())

    def in_flight(self, moment: float) -> bool:
        """Whether an attempt of this op was sent by ``moment`` and not answered before it (an attempt
        never answered counts as in flight from its start on)."""
        ended = {attempt.attempt: attempt.t for attempt in self.attempt_ends}
        return any(
            sent <= moment and ended.get(number, moment) >= moment for number, sent in self.start_times()
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
            for number, sent in self.start_times()
        )

    def all_answered(self) -> bool:
        """Whether every attempt sent has an answer in the history."""
        if self.held_starts is None and self.odd_starts is None:  # sent once (most operations), or never
            held = self.held_ends
            if self.first_attempt_t is None:
                return True
            if held is None:
                return False
            if type(held) is not list:
                return held.attempt == 1  # type: ignore[union-attr]
            return any(end.attempt == 1 for end in held)
        ends = self.attempt_ends
        if self.odd_starts is None and [end.attempt for end in ends] == list(range(1, len(ends) + 1)):
            return len(ends) >= len(self.starts)  # retried ones: each attempt answered in turn
        answered = {attempt.attempt for attempt in self.attempt_ends}
        return all(number in answered for number, _ in self.start_times())

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
    ``saga``: the scenario declares a saga (see the attribute).
    ``resource_methods``: the methods of the scenario's operations on a resource (``PUT``, ``GET``...),
    whose states the cell must read after its load before their checkers can judge them.
    The defaults guard nothing: :func:`harness.checker.check` on a bare history judges only effects.
    """

    fault_acts: bool = False
    min_exposed: int = 0
    min_acknowledged_rate: float = 0.0
    per_request_toxics: frozenset[str] = frozenset()
    resource_methods: frozenset[str] = frozenset()
    saga: bool = False
    """The scenario declares a saga: the cell must have read its saga evidence (``saga.json``) before
    the saga checkers can judge it."""


@dataclass
class CellEvidence:
    """A cell's history and effects, organised for checkers (build it with :meth:`scan`)."""

    ops: dict[str, OpTrace] = field(default_factory=dict)
    attempts: int = 0
    ops_attempted: int = 0
    """Op ids with at least one attempt sent (with or without an operation begun for them)."""
    latencies: list[float] = field(default_factory=list)
    fault_events: tuple[FaultLike, ...] = ()
    crashes: int = 0
    orphan_effects: int = 0
    effect_times: tuple[float, ...] = ()
    context_s: float = 1.0
    expect: CellExpectations = field(default_factory=lambda: CellExpectations())
    toxic_hits: list[ToxicHit] = field(default_factory=list)
    crash_events: list[CrashEvent] = field(default_factory=list)
    crash_plan: CrashPlanEvent | None = None
    states: dict[str, ResourceState] | None = None
    """The resource states read after the load, by op id; None when there are none to read (yet)."""
    saga: SagaEvidence | None = None
    """The sagas and participants' ledgers read after the load; None when none were read (yet)."""
    _fault_times: list[float] = field(default_factory=list)
    _answers: Counter[str] = field(default_factory=Counter)
    _retry_causes: Counter[str] = field(default_factory=Counter)
    unfinished: int = 0
    """Operations begun and never ended by the client (in flight, or cut off by a killed load)."""
    _ending_tally: dict[tuple[OpOutcome, int | None], int] | None = None
    _shared: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def scan(
        cls,
        history: Sequence[Event] | HistoryRecords,
        effects: Iterable[Effect],
        context_s: float = 1.0,
        expect: CellExpectations | None = None,
        states: Iterable[ResourceState] | None = None,
        saga: SagaEvidence | None = None,
    ) -> CellEvidence:
        """Scan ``history`` (events sorted by time, as :func:`harness.history.read_history` returns
        them, or the records :func:`harness.records.read_records` streams) and ``effects``;
        ``context_s`` widens the window of fault events kept with each anomaly; ``expect`` says what
        the cell's fault was meant to do (no guard at all when not given); ``states`` are the
        resources read after the load (None: none were read); ``saga`` the sagas and ledgers read
        after it (None: none were read)."""
        if context_s < 0:
            raise ValueError(f"context_s must be >= 0, got {context_s}")
        evidence = cls(context_s=context_s, expect=expect or CellExpectations(), saga=saga)
        if states is not None:
            evidence.states = {state.op_id: state for state in states}
        records = history if isinstance(history, HistoryRecords) else records_of(history)
        with collection_paused():
            evidence._scan_client(records.client)
            evidence._scan_fault_side(records.fault_side)
            evidence._attribute(effects)
        return evidence

    def _scan_client(self, records: Iterable[ClientRecord]) -> None:
        """Fold each client record into its operation: the loop a million operations go through
        four times each, so it does as little as it can (records are told apart by their class)."""
        ops = self.ops
        latencies = self.latencies
        tally: dict[AnswerKey, int] = {}  # answers by what labels them, in the order met
        examples: dict[AnswerKey, AttemptAnswer] = {}
        texts: dict[str, str] = {}  # one string per distinct error text, which repeat by the thousand
        attempts = 0
        ended = 0
        causes: dict[AnswerKey, int] = {}  # the answers retried after, keyed as the tally
        attempted_without_op: set[str] = set()
        for record in records:
            if type(record) is AttemptAnswer:
                latencies.append(record.latency_s)
                trace = ops.get(record.op_id)
                if trace is not None:
                    record.op_id = trace.op_id  # one string per operation, not one per answer
                    if record.error is not None:
                        record.error = texts.setdefault(record.error, record.error)
                    held = trace.held_ends
                    if held is None:
                        trace.held_ends = record
                    elif type(held) is list:
                        held.append(record)
                    else:
                        trace.held_ends = [held, record]  # type: ignore[list-item]
                    if record.t > trace.last_event_t:
                        trace.last_event_t = record.t
                    status = record.status  # the tally's key: a status, else what answered instead
                    key = status if status is not None else (record.error, record.outcome)
                    count = tally.get(key)
                    if count is None:
                        tally[key] = 1
                        examples[key] = record
                    else:
                        tally[key] = count + 1
            elif type(record) is AttemptSent:
                attempts += 1
                t = record.t
                trace = ops.get(record.op_id)
                if trace is None:
                    attempted_without_op.add(record.op_id)
                    continue
                if trace.attempt_starts == 0 and record.attempt == 1:  # most operations: one attempt
                    trace.first_attempt_t = t  # and their starts are (t,), held by nobody
                else:  # a retry, a twin, or an attempt numbered out of turn: rare
                    trace.started(record.attempt, t)
                    if trace.first_attempt_t is None:
                        trace.first_attempt_t = t
                    retried = trace.attempt_starts and record.twin_of is None  # not its first, nor a twin
                    cause = _last_answer(trace) if retried else None
                    if cause is not None:
                        key = cause.status if cause.status is not None else (cause.error, cause.outcome)
                        causes[key] = causes.get(key, 0) + 1
                trace.attempt_starts += 1
                if record.twin_of is not None:
                    trace.twins += 1
                if t > trace.last_event_t:
                    trace.last_event_t = t
            elif type(record) is OpBegin:
                if record.op_id not in ops:
                    ops[record.op_id] = OpTrace(op_id=record.op_id, start_t=record.t, last_event_t=record.t)
            elif type(record) is OpFinish:
                trace = ops.get(record.op_id)
                if trace is not None:
                    record.op_id = trace.op_id
                    held = trace.held_ends
                    if held is not None:
                        last = held[-1] if isinstance(held, list) else held
                        if record.resource_id == last.resource_id:
                            record.resource_id = last.resource_id  # one string, not two
                    if trace.end is None:
                        ended += 1
                    trace.end = record
                    if record.t > trace.last_event_t:
                        trace.last_event_t = record.t
        self.attempts = attempts
        answers = _labelled(tally, examples)
        self._answers = answers
        self._retry_causes = _labelled(causes, examples)
        self.unfinished = len(ops) - ended
        with_attempts = sum(trace.attempt_starts > 0 for trace in ops.values())
        self.ops_attempted = with_attempts + sum(
            not (op_id in ops and ops[op_id].attempt_starts) for op_id in attempted_without_op
        )

    def _scan_fault_side(self, events: Iterable[FaultSideEvent]) -> None:
        faults: list[FaultLike] = []
        for event in events:
            if isinstance(event, CrashEvent):
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
        """Hand each effect to its operation. An attributed effect's ``op_ref`` is pointed at its
        operation's own ``op_id`` string (an equal one: only its identity changes), so a million
        effects do not hold a million more copies of the op ids."""
        times: list[float] = []
        ops = self.ops
        orphans = 0
        share_op_id = msgspec.structs.force_setattr
        for effect in effects:
            trace = ops.get(effect.op_ref)
            if trace is None:
                orphans += 1
            else:
                share_op_id(effect, "op_ref", trace.op_id)
                held = trace.held_effects
                if held is None:
                    trace.held_effects = effect
                elif type(held) is list:
                    held.append(effect)
                else:
                    trace.held_effects = [held, effect]  # type: ignore[list-item]
            if effect.t is not None:
                times.append(effect.t)
        self.orphan_effects += orphans
        times.sort()
        self.effect_times = tuple(times)

    @property
    def operations(self) -> int:
        return len(self.ops)

    @property
    def retries(self) -> int:
        return self.attempts - self.ops_attempted

    def answer_counts(self) -> dict[str, int]:
        """How the attempts ended, most frequent first: ``{"201": 140, "timeout": 20, "500": 3}``."""
        tally = self._answers
        if len(set(tally.values())) < len(tally):  # a tie: order it as the operations come, each its way
            tally = Counter(
                answer_label(attempt) for trace in self.ops.values() for attempt in trace.attempt_ends
            )
        return dict(tally.most_common())

    def retry_causes(self) -> dict[str, int]:
        """The answers the client retried after, by tally label (:func:`answer_label`): an attempt
        sent again after an answer counts for that answer; a double submit's twin is no retry."""
        return dict(self._retry_causes)

    def final_outcome_counts(self) -> dict[str, int]:
        """How the operations ended, with their final status, most frequent first:
        ``{"acknowledged 201": 148, "unknown 500": 2, "unknown": 1}``."""
        tally: dict[str, int] = {}
        for (outcome, status), count in self._endings().items():
            label = f"{outcome} {status}" if status else outcome
            tally[label] = tally.get(label, 0) + count
        return dict(Counter(tally).most_common())

    def outcome_counts(self) -> Mapping[OpOutcome, int]:
        """How many operations ended acknowledged, rejected and unknown."""
        counts: dict[OpOutcome, int] = {"acknowledged": 0, "rejected": 0, "unknown": 0}
        for (outcome, _), count in self._endings().items():
            counts[outcome] += count
        return counts

    def _endings(self) -> dict[tuple[OpOutcome, int | None], int]:
        """How many operations ended with each (outcome, status), in the order the operations began."""
        if self._ending_tally is None:
            self._ending_tally = dict(
                Counter(
                    (trace.end.outcome, trace.end.status) if trace.end is not None else ("unknown", None)
                    for trace in self.ops.values()
                )
            )
        return self._ending_tally

    def shared(self, name: str, make: Callable[[CellEvidence], T]) -> T:
        """``make(self)``, made once for all the checkers that ask for it by ``name``: a pass over a
        million operations that several checkers need is made once."""
        if name not in self._shared:
            self._shared[name] = make(self)
        return cast(T, self._shared[name])

    def effects_of(self, op_id: str) -> list[Effect]:
        trace = self.ops.get(op_id)
        return list(trace.effects or ()) if trace is not None else []

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
            attempts=tuple(attempt.event(trace.op_id) for attempt in trace.attempt_ends),
            nearby_faults=self.nearby_faults(trace),
            explanation=explain(trace, op_effects),
        )
