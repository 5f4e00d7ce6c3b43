"""A cell's history as compact records, streamed from its files for the checker.

A million operations make four million events; as pydantic models they take most of a minute to
validate and gigabytes to hold. The checker needs neither: it folds each event into its operation as
it goes by. So the files are read line by line, decoded with orjson into small records (a tuple per
event, a ``__slots__`` object per attempt answer and per operation end), checked field by field on the
way, and never held as a list. A line the fast path does not recognise goes through the pydantic model
of :mod:`harness.history` (the one the writer uses), so the two accept the same lines and disagree
only on speed; a line neither accepts is a :class:`~harness.errors.HistoryError` naming file and line.

Order. The checker must see events in time order, ties in file order, as :func:`harness.history.
read_history` sorts them. Client events (an operation's start, attempts and end) are the bulk and come
from the load's files, each already in time order, so they are merged with :func:`heapq.merge`; a
file found out of order is read whole and sorted (:class:`OutOfOrder` restarts the stream). Fault-side
events (toxics, crashes, restarts, the crash plan) are few and independent of client events in every
checker, so they are set aside while streaming and sorted once at the end.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, TypeAlias

import orjson
from pydantic import ValidationError

from harness.errors import HistoryError
from harness.history import (
    AttemptEnd,
    AttemptOutcome,
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
    parse_event,
)

OP_START: Final = 0
ATTEMPT_START: Final = 1
ATTEMPT_END: Final = 2
OP_END: Final = 3


class AttemptAnswer:
    """What the client saw for one attempt: :class:`~harness.history.AttemptEnd` without its op id,
    in a quarter of the memory (the operation holds the op id)."""

    __slots__ = ("attempt", "error", "latency_s", "outcome", "resource_id", "status", "t")

    def __init__(
        self,
        t: float,
        attempt: int,
        outcome: AttemptOutcome,
        status: int | None,
        resource_id: str | None,
        error: str | None,
        latency_s: float,
    ) -> None:
        self.t = t
        self.attempt = attempt
        self.outcome: AttemptOutcome = outcome
        self.status = status
        self.resource_id = resource_id
        self.error = error
        self.latency_s = latency_s

    def event(self, op_id: str) -> AttemptEnd:
        """The history event this answer was read from (for an anomaly's evidence)."""
        return AttemptEnd(
            t=self.t,
            op_id=op_id,
            attempt=self.attempt,
            outcome=self.outcome,
            status=self.status,
            resource_id=self.resource_id,
            error=self.error,
            latency_s=self.latency_s,
        )


class OpFinish:
    """How the client ended an operation: :class:`~harness.history.OpEnd` without its op id."""

    __slots__ = ("outcome", "resource_id", "status", "t")

    def __init__(self, t: float, outcome: OpOutcome, status: int | None, resource_id: str | None) -> None:
        self.t = t
        self.outcome: OpOutcome = outcome
        self.status = status
        self.resource_id = resource_id


ClientRecord: TypeAlias = tuple[Any, ...]
"""One client event as a plain tuple, its time first and its kind second (the checker's hot loop
reads them by position; a tuple is the cheapest thing Python makes):

* ``(t, OP_START, op_id)``
* ``(t, ATTEMPT_START, op_id, attempt, is_twin)``
* ``(t, ATTEMPT_END, op_id, AttemptAnswer)``
* ``(t, OP_END, op_id, OpFinish)``
"""

FaultSideEvent: TypeAlias = FaultEvent | CrashEvent | CrashPlanEvent | RestartEvent | ToxicHit


@dataclass
class HistoryRecords:
    """A cell's history for the checker: client records in time order, and the fault-side events.

    ``fault_side`` is complete once ``client`` has been consumed (a file holds both kinds, and is read
    once): consume ``client`` first.
    """

    client: Iterable[ClientRecord]
    fault_side: list[FaultSideEvent] = field(default_factory=list)


def records_of(events: Iterable[Event]) -> HistoryRecords:
    """The records of events already parsed (sorted by time, as :func:`harness.history.read_history`
    returns them)."""
    history = HistoryRecords(client=())
    history.client = _split(events, history.fault_side)
    return history


def _split(events: Iterable[Event], fault_side: list[FaultSideEvent]) -> Iterator[ClientRecord]:
    for event in events:
        record = _record_of_event(event)
        if record is None:
            fault_side.append(event)  # type: ignore[arg-type]  # every non-client event is fault-side
        else:
            yield record


def _record_of_event(event: Event) -> ClientRecord | None:
    if isinstance(event, AttemptEnd):
        answer = AttemptAnswer(
            event.t,
            event.attempt,
            event.outcome,
            event.status,
            event.resource_id,
            event.error,
            event.latency_s,
        )
        return (event.t, ATTEMPT_END, event.op_id, answer)
    if isinstance(event, AttemptStart):
        return (event.t, ATTEMPT_START, event.op_id, event.attempt, event.twin_of is not None)
    if isinstance(event, OpStart):
        return (event.t, OP_START, event.op_id)
    if isinstance(event, OpEnd):
        return (
            event.t,
            OP_END,
            event.op_id,
            OpFinish(event.t, event.outcome, event.status, event.resource_id),
        )
    return None


# -- the fast path: orjson and a few type checks per line ---------------------------------------------

_NUMBER = (float, int)
_ATTEMPT_OUTCOMES: dict[object, AttemptOutcome] = {"ok": "ok", "fail": "fail", "info": "info"}
_OP_OUTCOMES: dict[object, OpOutcome] = {
    "acknowledged": "acknowledged",
    "rejected": "rejected",
    "unknown": "unknown",
}
_FIELDS = {
    "op_start": frozenset({"t", "type", "op_id", "kind", "key"}),
    "attempt_start": frozenset({"t", "type", "op_id", "attempt", "twin_of"}),
    "attempt_end": frozenset(
        {"t", "type", "op_id", "attempt", "outcome", "status", "resource_id", "error", "latency_s"}
    ),
    "op_end": frozenset({"t", "type", "op_id", "outcome", "attempts", "status", "resource_id"}),
}


class _NotFast(Exception):
    """The fast path does not vouch for this line: let the pydantic model judge it."""


def _optional(value: object, kind: type) -> bool:
    return value is None or type(value) is kind


def _fast_record(fields: object, texts: dict[str, str]) -> ClientRecord | None:
    """The record of a client event's decoded line, None for a fault-side event; ``_NotFast`` when
    anything is unusual. ``texts`` shares equal error texts, which repeat by the thousand."""
    if type(fields) is not dict:
        raise _NotFast
    kind = fields.get("type")
    allowed = _FIELDS.get(kind)  # type: ignore[arg-type]
    if allowed is None:
        if kind in ("fault", "crash", "crash_plan", "restart", "toxic_hit"):
            return None
        raise _NotFast
    t, op_id = fields.get("t"), fields.get("op_id")
    if not (fields.keys() <= allowed and type(t) in _NUMBER and type(op_id) is str):
        raise _NotFast
    t = float(t)  # type: ignore[arg-type]  # a number, checked above
    if kind == "attempt_end":
        attempt, status, resource_id, error = (
            fields.get("attempt"),
            fields.get("status"),
            fields.get("resource_id"),
            fields.get("error"),
        )
        latency_s = fields.get("latency_s", 0.0)
        outcome = _ATTEMPT_OUTCOMES.get(fields.get("outcome"))
        if not (
            outcome is not None
            and type(attempt) is int
            and _optional(status, int)
            and _optional(resource_id, str)
            and _optional(error, str)
            and type(latency_s) in _NUMBER
        ):
            raise _NotFast
        if error is not None:
            error = texts.setdefault(error, error)
        answer = AttemptAnswer(t, attempt, outcome, status, resource_id, error, float(latency_s))
        return (answer.t, ATTEMPT_END, op_id, answer)
    if kind == "attempt_start":
        attempt, twin_of = fields.get("attempt"), fields.get("twin_of")
        if not (type(attempt) is int and _optional(twin_of, int)):
            raise _NotFast
        return (t, ATTEMPT_START, op_id, attempt, twin_of is not None)
    if kind == "op_start":
        if not (type(fields.get("kind", "")) is str and _optional(fields.get("key"), str)):
            raise _NotFast
        return (t, OP_START, op_id)
    status, resource_id = fields.get("status"), fields.get("resource_id")
    op_outcome = _OP_OUTCOMES.get(fields.get("outcome"))
    if not (
        op_outcome is not None
        and type(fields.get("attempts")) is int
        and _optional(status, int)
        and _optional(resource_id, str)
    ):
        raise _NotFast
    return (t, OP_END, op_id, OpFinish(t, op_outcome, status, resource_id))


# -- the hot path: the exact shapes the history writer writes, unpacked by position -------------------
#
# The writer drops None fields and keeps the model's field order, so nearly every line has one of a
# few key sequences. For those the values are unpacked at once and only their types are checked; any
# other line (or a check that fails) goes to :func:`_fast_record`, which accepts the same lines.


def _hot_op_start(values: Any, texts: dict[str, str]) -> ClientRecord:
    t, kind, op_id, op_kind, key = values
    if not (kind == "op_start" and type(t) is float and type(op_id) is str):
        raise _NotFast
    if not (type(op_kind) is str and type(key) is str):
        raise _NotFast
    return (t, OP_START, op_id)


def _hot_attempt_start(values: Any, texts: dict[str, str]) -> ClientRecord:
    t, kind, op_id, attempt = values
    if not (kind == "attempt_start" and type(t) is float and type(op_id) is str and type(attempt) is int):
        raise _NotFast
    return (t, ATTEMPT_START, op_id, attempt, False)


def _hot_answered(values: Any, texts: dict[str, str]) -> ClientRecord:
    t, kind, op_id, attempt, outcome, status, resource_id, latency_s = values
    outcome = _ATTEMPT_OUTCOMES.get(outcome)
    if not (kind == "attempt_end" and type(t) is float and type(op_id) is str and type(attempt) is int):
        raise _NotFast
    if not (outcome is not None and type(status) is int and type(resource_id) is str):
        raise _NotFast
    if type(latency_s) is not float:
        raise _NotFast
    return (t, ATTEMPT_END, op_id, AttemptAnswer(t, attempt, outcome, status, resource_id, None, latency_s))


def _hot_failed(values: Any, texts: dict[str, str]) -> ClientRecord:
    t, kind, op_id, attempt, outcome, error, latency_s = values
    outcome = _ATTEMPT_OUTCOMES.get(outcome)
    if not (kind == "attempt_end" and type(t) is float and type(op_id) is str and type(attempt) is int):
        raise _NotFast
    if not (outcome is not None and type(error) is str and type(latency_s) is float):
        raise _NotFast
    error = texts.setdefault(error, error)
    return (t, ATTEMPT_END, op_id, AttemptAnswer(t, attempt, outcome, None, None, error, latency_s))


def _hot_op_end(values: Any, texts: dict[str, str]) -> ClientRecord:
    t, kind, op_id, outcome, attempts, status, resource_id = values
    op_outcome = _OP_OUTCOMES.get(outcome)
    if not (kind == "op_end" and type(t) is float and type(op_id) is str and op_outcome is not None):
        raise _NotFast
    if not (type(attempts) is int and type(status) is int and type(resource_id) is str):
        raise _NotFast
    return (t, OP_END, op_id, OpFinish(t, op_outcome, status, resource_id))


_HOT_SHAPES: dict[tuple[str, ...], Callable[[Any, dict[str, str]], ClientRecord]] = {
    ("t", "type", "op_id", "kind", "key"): _hot_op_start,
    ("t", "type", "op_id", "attempt"): _hot_attempt_start,
    ("t", "type", "op_id", "attempt", "outcome", "status", "resource_id", "latency_s"): _hot_answered,
    ("t", "type", "op_id", "attempt", "outcome", "error", "latency_s"): _hot_failed,
    ("t", "type", "op_id", "outcome", "attempts", "status", "resource_id"): _hot_op_end,
}


@dataclass
class _FileReader:
    """One history file's records, in file order; fault-side events go to ``fault_side``."""

    path: Path
    fault_side: list[tuple[float, int, FaultSideEvent]]
    rank: int
    """The file's place among the cell's files, for the stable sort of fault-side events."""
    check_order: bool = False
    """Raise :class:`OutOfOrder` when a client record is earlier than the one before it."""

    def __iter__(self) -> Iterator[ClientRecord]:
        texts: dict[str, str] = {}
        loads = orjson.loads
        hot_shapes = _HOT_SHAPES
        check_order = self.check_order
        last = float("-inf")
        number = 0
        with self.path.open("rb") as lines:
            for line in lines:
                number += 1
                if line[-1:] != b"\n":
                    break  # a torn last line: its writer was killed mid-write
                try:
                    fields = loads(line)
                    hot = hot_shapes.get(tuple(fields)) if type(fields) is dict else None
                    try:
                        record = _fast_record(fields, texts) if hot is None else hot(fields.values(), texts)
                    except _NotFast:
                        record = _fast_record(fields, texts)
                except (_NotFast, orjson.JSONDecodeError):
                    if not line.strip():
                        continue
                    record = self._slow_record(line, number)  # sets a fault-side event aside itself
                    if record is None:
                        continue
                if record is None:
                    self._set_aside(line, number)
                    continue
                if check_order:
                    if record[0] < last:
                        raise OutOfOrder(self.path)
                    last = record[0]
                yield record

    def _slow_record(self, line: bytes, number: int) -> ClientRecord | None:
        """The pydantic model's reading of a line the fast path did not vouch for."""
        event = self._parse(line, number)
        record = _record_of_event(event)
        if record is None:
            self.fault_side.append((event.t, self.rank, event))  # type: ignore[arg-type]
        return record

    def _set_aside(self, line: bytes, number: int) -> None:
        event = self._parse(line, number)
        self.fault_side.append((event.t, self.rank, event))  # type: ignore[arg-type]

    def _parse(self, line: bytes, number: int) -> Event:
        try:
            return parse_event(line.decode("utf-8", errors="replace"))
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "line"
            raise HistoryError(self.path, number, f"{where}: {problem['msg']}") from None


class OutOfOrder(Exception):
    """A history file's client events are not in time order: it must be read whole and sorted."""


_by_time = itemgetter(0)


def read_records(paths: Sequence[Path], *, sort_all: bool = False) -> HistoryRecords:
    """The history in ``paths`` (absent files are skipped), streamed as records.

    Iterating ``client`` raises :class:`OutOfOrder` when a file is not in time order; read again with
    ``sort_all`` then, which holds each file's records in memory to sort them (stable, as
    :func:`harness.history.read_history` sorts). Ties between files keep the order of ``paths``.
    """
    existing = [path for path in paths if path.exists()]
    history = HistoryRecords(client=())
    set_aside: list[tuple[float, int, FaultSideEvent]] = []

    def client() -> Iterator[ClientRecord]:
        readers = [
            _FileReader(path, set_aside, rank, check_order=not sort_all) for rank, path in enumerate(existing)
        ]
        streams = [iter(sorted(reader, key=_by_time)) if sort_all else iter(reader) for reader in readers]
        yield from _merged(streams)
        set_aside.sort(key=lambda entry: (entry[0], entry[1]))  # stable: file order, then line order
        history.fault_side.extend(event for _, _, event in set_aside)

    history.client = client()
    return history


def _merged(streams: list[Iterator[ClientRecord]]) -> Iterator[ClientRecord]:
    """The records of ``streams`` merged by time, ties in stream order. A stream with no client records
    at all (a fault history, most often) is found empty by its first record and dropped, so a cell
    whose client events are in one file reads it with no merging at all."""
    heads = [(first, stream) for stream in streams for first in itertools.islice(stream, 1)]
    if len(heads) == 1:
        first, stream = heads[0]
        yield first
        yield from stream
    elif heads:
        yield from heapq.merge(*(itertools.chain((first,), stream) for first, stream in heads), key=_by_time)


def with_live(history: HistoryRecords, live: Sequence[FaultSideEvent]) -> HistoryRecords:
    """``history`` with ``live`` fault-side events merged into its own, in time order, once its client
    records are consumed (a running cell's toxic hits, which the nemesis writes only as it ends)."""
    if not live:
        return history

    def client() -> Iterator[ClientRecord]:
        yield from history.client
        history.fault_side.extend(live)
        history.fault_side.sort(key=lambda event: event.t)  # stable: the file's order among ties

    return HistoryRecords(client=client(), fault_side=history.fault_side)
