"""A cell's history as compact records, streamed from its files for the checker.

A million operations make four million events; as pydantic models they take most of a minute to
validate and gigabytes to hold. The checker needs neither: it folds each event into its operation as
it goes by. So the files are read line by line, each line decoded and type-checked by msgspec straight
into a small record (a ``Struct`` of the event's fields, no dict on the way), and never held as a list.
A line msgspec does not vouch for (a fault-side event, a line another writer spelt differently) goes
through the pydantic model of :mod:`harness.history` (the one the writer uses), so the two accept the
same lines and disagree only on speed; a line neither accepts is a :class:`~harness.errors.HistoryError`
naming file and line.

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
import operator
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Final, TypeAlias

import msgspec
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


class _Record(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, gc=False):
    """A client event as the checker holds it: the history model's fields, decoded and type-checked
    by msgspec in one C call per line, with no dict built on the way (the collector never looks at
    these records: they hold only strings and numbers)."""

    t: float
    op_id: str


class OpBegin(_Record, tag="op_start"):
    """:class:`~harness.history.OpStart` as a record."""

    kind: str = "default"
    key: str | None = None


class AttemptSent(_Record, tag="attempt_start"):
    """:class:`~harness.history.AttemptStart` as a record."""

    attempt: int
    twin_of: int | None = None


class AttemptAnswer(_Record, tag="attempt_end"):
    """What the client saw for one attempt: :class:`~harness.history.AttemptEnd` as a record. The
    checker's scan points its ``op_id`` at its operation's own string, so a million answers do not
    hold a million more copies of their op ids."""

    attempt: int
    outcome: AttemptOutcome
    status: int | None = None
    resource_id: str | None = None
    error: str | None = None
    latency_s: float = 0.0

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


class OpFinish(_Record, tag="op_end"):
    """How the client ended an operation: :class:`~harness.history.OpEnd` as a record."""

    outcome: OpOutcome
    attempts: int
    status: int | None = None
    resource_id: str | None = None


ClientRecord: TypeAlias = OpBegin | AttemptSent | AttemptAnswer | OpFinish
"""One client event, told apart by its class (``type(record) is AttemptAnswer``: the cheapest test)."""

FaultSideEvent: TypeAlias = FaultEvent | CrashEvent | CrashPlanEvent | RestartEvent | ToxicHit

_decode_client_line: Final = msgspec.json.Decoder(ClientRecord).decode
"""A client event's line as its record; raises :class:`msgspec.DecodeError` for anything else (a
fault-side event, a line another writer spelt differently, a broken line), which the pydantic model
judges then. msgspec is strict where pydantic is lax (no ``"1"`` for 1, no ``1.0`` for an int, no
unknown field), so what it accepts the model accepts too, with the same values."""


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


_CLIENT_EVENTS = (OpStart, AttemptStart, AttemptEnd, OpEnd)


def _record_of_event(event: Event) -> ClientRecord | None:
    """The record of a parsed client event (the same fields, validated once more), None for any other."""
    if not isinstance(event, _CLIENT_EVENTS):
        return None
    record: ClientRecord = msgspec.convert(event.model_dump(), ClientRecord)
    return record


CHUNK_BYTES: Final = 256 * 1024
"""How much of a history file is read and decoded at a time: enough lines (about two thousand) that
the loop over them runs in C, few enough that holding them costs nothing."""


@dataclass
class _FileReader:
    """One history file's records, in file order, a chunk of lines at a time; fault-side events go to
    ``fault_side``. Iterating the chunks with :func:`itertools.chain.from_iterable` hands each record
    on in C: a million operations are four million records, and a Python generator's step for each
    cost a fifth of the read."""

    path: Path
    fault_side: list[tuple[float, int, FaultSideEvent]]
    rank: int
    """The file's place among the cell's files, for the stable sort of fault-side events."""
    check_order: bool = False
    """Raise :class:`OutOfOrder` when a client record is earlier than the one before it."""

    def records(self) -> Iterator[ClientRecord]:
        return itertools.chain.from_iterable(self.chunks())

    def chunks(self) -> Iterator[list[ClientRecord]]:
        last = float("-inf")
        number = 0  # lines before the chunk
        for lines in _whole_lines(self.path):
            try:
                chunk = list(map(_decode_client_line, lines))
            except msgspec.DecodeError:  # a validation error is one too
                chunk = self._line_by_line(lines, number)
            number += len(lines)
            if self.check_order and chunk:
                times = list(map(_by_time, chunk))
                if times[0] < last or any(map(operator.gt, times, itertools.islice(times, 1, None))):
                    raise OutOfOrder(self.path)
                last = times[-1]
            yield chunk

    def _line_by_line(self, lines: list[bytes], before: int) -> list[ClientRecord]:
        """The records of a chunk with a line the fast path did not vouch for: that line is read by
        the pydantic model, which sets a fault-side event aside itself."""
        chunk = []
        for number, line in enumerate(lines, start=before + 1):
            try:
                chunk.append(_decode_client_line(line))
            except msgspec.DecodeError:
                slow = self._slow_record(line, number) if line.strip() else None
                if slow is not None:
                    chunk.append(slow)
        return chunk

    def _slow_record(self, line: bytes, number: int) -> ClientRecord | None:
        """The pydantic model's reading of a line the fast path did not vouch for."""
        event = self._parse(line, number)
        record = _record_of_event(event)
        if record is None:
            self.fault_side.append((event.t, self.rank, event))  # type: ignore[arg-type]
        return record

    def _parse(self, line: bytes, number: int) -> Event:
        try:
            return parse_event(line.decode("utf-8", errors="replace"))
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "line"
            raise HistoryError(self.path, number, f"{where}: {problem['msg']}") from None


def _whole_lines(path: Path) -> Iterator[list[bytes]]:
    """The lines of ``path`` (without their newlines), :data:`CHUNK_BYTES` at a time. A last line
    with no newline is left out: its writer was killed mid-write."""
    with path.open("rb") as file:
        rest = b""
        while block := file.read(CHUNK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                lines = block[:cut].split(b"\n")
                lines.pop()  # the nothing after the last newline
                yield lines


class OutOfOrder(Exception):
    """A history file's client events are not in time order: it must be read whole and sorted."""


_by_time = attrgetter("t")


def read_records(paths: Sequence[Path], *, sort_all: bool = False) -> HistoryRecords:
    """The history in ``paths`` (absent files are skipped), streamed as records.

    Iterating ``client`` raises :class:`OutOfOrder` when a file is not in time order; read again with
    ``sort_all`` then, which holds each file's records in memory to sort them (stable, as
    :func:`harness.history.read_history` sorts). Ties between files keep the order of ``paths``.
    """
    existing = [path for path in paths if path.exists()]
    history = HistoryRecords(client=())
    set_aside: list[tuple[float, int, FaultSideEvent]] = []

    def client() -> Iterator[Iterator[ClientRecord]]:
        readers = [
            _FileReader(path, set_aside, rank, check_order=not sort_all) for rank, path in enumerate(existing)
        ]
        streams = [
            iter(sorted(reader.records(), key=_by_time)) if sort_all else reader.records()
            for reader in readers
        ]
        yield _merged(streams)
        set_aside.sort(key=lambda entry: (entry[0], entry[1]))  # stable: file order, then line order
        history.fault_side.extend(event for _, _, event in set_aside)

    history.client = itertools.chain.from_iterable(client())  # each record handed on in C
    return history


def _merged(streams: list[Iterator[ClientRecord]]) -> Iterator[ClientRecord]:
    """The records of ``streams`` merged by time, ties in stream order. A stream with no client records
    at all (a fault history, most often) is found empty by its first record and dropped, so a cell
    whose client events are in one file reads it with no merging at all."""
    heads = [(first, stream) for stream in streams for first in itertools.islice(stream, 1)]
    if len(heads) == 1:
        first, stream = heads[0]
        return itertools.chain((first,), stream)
    return heapq.merge(*(itertools.chain((first,), stream) for first, stream in heads), key=_by_time)


def with_live(history: HistoryRecords, live: Sequence[FaultSideEvent]) -> HistoryRecords:
    """``history`` with ``live`` fault-side events merged into its own, in time order, once its client
    records are consumed (a running cell's toxic hits, which the nemesis writes only as it ends)."""
    if not live:
        return history

    def then_live() -> Iterator[ClientRecord]:
        history.fault_side.extend(live)
        history.fault_side.sort(key=lambda event: event.t)  # stable: the file's order among ties
        yield from ()

    return HistoryRecords(client=itertools.chain(history.client, then_live()), fault_side=history.fault_side)
