"""The history of one run cell: every client attempt and every fault event, in one JSONL file.

Borrowed from Jepsen: client operations and fault operations share one history, and each attempt
completes as ``ok`` (the client got a final answer it trusts), ``fail`` (the request certainly did not
take effect: a 4xx the server produced, a connection refused before sending) or ``info`` (unknown:
timeout, reset after sending, 5xx). The checker is a pure function of these records plus the effects.

Several processes write to a cell: the load driver (client events) and the orchestrator (fault,
crash and restart events). Each writes its own file; :func:`read_history` merges them by time.
Times are ``time.time()`` seconds, comparable across processes on one machine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from harness.scenario.saga import CLIENT_LINK

AttemptOutcome = Literal["ok", "fail", "info"]
OpOutcome = Literal["acknowledged", "rejected", "unknown"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    t: float


class OpStart(_Event):
    """A logical operation begins; ``key`` is the Idempotency-Key it carries, if any."""

    type: Literal["op_start"] = "op_start"
    op_id: str
    kind: str = "default"
    key: str | None = None


class AttemptStart(_Event):
    """One HTTP attempt of an operation is sent (attempt numbers start at 1).

    ``twin_of``: this attempt is the double submit of that one, sent at once on another connection.
    """

    type: Literal["attempt_start"] = "attempt_start"
    op_id: str
    attempt: int
    twin_of: int | None = None


class AttemptEnd(_Event):
    """What the client saw for one attempt."""

    type: Literal["attempt_end"] = "attempt_end"
    op_id: str
    attempt: int
    outcome: AttemptOutcome
    status: int | None = None
    resource_id: str | None = None
    error: str | None = None
    latency_s: float = 0.0


class OpEnd(_Event):
    """The client stopped working on an operation: its final outcome as the caller would see it."""

    type: Literal["op_end"] = "op_end"
    op_id: str
    outcome: OpOutcome
    attempts: int
    status: int | None = None
    resource_id: str | None = None


class FaultEvent(_Event):
    """A fault was switched on or off (a toxic added or removed), or fired once (``fire``)."""

    type: Literal["fault"] = "fault"
    name: str
    action: Literal["on", "off", "fire"]
    detail: str = ""


CrashReason = Literal["kill", "failpoint", "unexpected"]


class CrashEvent(_Event):
    """The target died: killed by the harness (``kill``) or by its own failpoint (``failpoint``).

    For a kill, ``t`` is when the kill was issued and ``planned_s`` the planned moment it carries
    out, in seconds after the load's first operation; for an exit, ``t`` is when it was noticed.
    """

    type: Literal["crash"] = "crash"
    reason: CrashReason
    detail: str = ""
    planned_s: float | None = None


class CrashPlanEvent(_Event):
    """How many kills the fault planned and how many were made (written once, after the load).

    A kill is not made when the load ended first, or when nothing was in flight for as long as the
    nemesis waits; ``detail`` says which and why. ``load_started_t`` is when the load's first
    operation started, the origin of the schedule (``None``: no operation ever started).
    """

    type: Literal["crash_plan"] = "crash_plan"
    planned: int
    made: int
    load_started_t: float | None = None
    detail: str = ""


class ToxicHit(_Event):
    """A per-request toxic acted on one request of operation ``op_id``, as the fault proxy decided.

    ``t`` is the proxy's time of the decision. ``action`` is what the toxic did (``reset``,
    ``close``, ``hang``, ``delay``, ``error``); ``detail`` adds its size (``250 ms``, ``503``).
    ``op_id`` is ``None`` for a request without the load's op header. ``link`` is the link the proxy
    sits on: ``client`` (between the load and the target) or a saga hop, named by its participant;
    on a hop, ``saga_id`` is the saga whose call was hit (its orchestrator's ``X-Saga-Id``) and
    ``path`` the call's path. Histories written before these fields read as the client's.
    """

    type: Literal["toxic_hit"] = "toxic_hit"
    proxy: str
    toxic: str
    op_id: str | None = None
    action: str
    detail: str = ""
    link: str = CLIENT_LINK
    saga_id: str | None = None
    path: str = ""


class RestartEvent(_Event):
    """The target answered its health check again after a crash."""

    type: Literal["restart"] = "restart"
    downtime_s: float = 0.0


Event = Annotated[
    OpStart
    | AttemptStart
    | AttemptEnd
    | OpEnd
    | FaultEvent
    | CrashEvent
    | CrashPlanEvent
    | RestartEvent
    | ToxicHit,
    Field(discriminator="type"),
]
_event_adapter: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(line: str) -> Event:
    """Parse one JSONL line into its typed event."""
    return _event_adapter.validate_json(line)


class HistoryWriter:
    """Appends events to a JSONL file, one flushed line each, safe to share between threads.

    Flushing every line costs little at our rates and means a crashed or interrupted run still
    leaves its evidence on disk. A writer with thousands of lines a second (the load's) may leave
    some in the buffer (:meth:`write_line`) and flush them with a later one.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: BinaryIO = path.open("ab")
        self._lock = threading.Lock()

    def append(self, event: _Event) -> None:
        self.write_line(event.model_dump_json(exclude_none=True).encode())

    def write_line(self, line: bytes, *, flush: bool = True) -> None:
        """Append one event's JSON (UTF-8, no newline); ``flush=False`` leaves it buffered until the
        next flushed line or the close."""
        with self._lock:
            self._file.write(line + b"\n")
            if flush:
                self._file.flush()

    def flush(self) -> None:
        """Put the lines left in the buffer on disk."""
        with self._lock:
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()

    def __enter__(self) -> HistoryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def iter_file(path: Path) -> Iterator[Event]:
    """Events of one file, in file order; a torn last line (a killed writer) is ignored."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                break
            if line.strip():
                yield parse_event(line)


def read_history(paths: Iterable[Path]) -> list[Event]:
    """All events of the given files merged into one list ordered by time (stable per file)."""
    events: list[Event] = []
    for path in paths:
        if path.exists():
            events.extend(iter_file(path))
    events.sort(key=lambda event: event.t)
    return events

