"""Each broken saga of a cell as lanes across the services, for index.html.

A saga checker's anomaly names the client operation whose saga broke and tells its story in one long
sentence. Read across four services that sentence is hard to follow, so the page draws it instead:
one lane per service (the client, the orchestrator, then each participant in step order), each
lane a strip where every event is a dot at its time and, under it, the events in words in time
order. The events come from the cell folder, never from the checkers' text:

* the client's attempts (the anomaly's own, from the history: sent when, answered how);
* the orchestrator's log (``saga.json``): when it opened each saga, and how it says each ended;
* each participant's ledger rows (``saga.json``): forward step or compensation, amount, key;
* the faults on each hop (``faults.jsonl``: the hop proxy's toxic decisions, tied to their saga by
  the ``X-Saga-Id`` its orchestrator sends, on the lane of the participant the hop leads to), and the
  crashes and restarts within the operation's span (on the orchestrator's lane: the nemesis crashes
  the target, which is the orchestrator).

Hop decisions that name no saga (an orchestrator that sends no ``X-Saga-Id``) are not guessed onto a
saga by time: they are left out. Only cells with saga evidence get timelines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.checkers.registry import anomaly_declaration, checkers
from harness.checkers.saga_story import SagaChecker, SagaView, saga_views
from harness.history import AttemptEnd, CrashEvent, RestartEvent, ToxicHit, iter_file
from harness.report.formatting import describe_fault_event, format_seconds
from harness.saga_evidence import SAGA_FILE, SagaEvidence, read_saga_evidence_file
from harness.scenario import CLIENT_LINK
from harness.verdict import CellVerdict

FAULTS_FILE = "faults.jsonl"
TIMELINES_PER_CELL = 6
"""Broken operations drawn per cell; the rest are counted (their stories stay in the anomaly list)."""

CLIENT, ORCHESTRATOR = "client", "orchestrator"


@dataclass(frozen=True)
class Mark:
    """One event on a lane: when (``at``, and ``left``: percent of the operation's span) and what.

    ``tone`` colours it: ``client``, ``orchestrator``, ``forward``, ``compensation`` or ``fault``."""

    at: str
    left: float
    text: str
    tone: str


@dataclass(frozen=True)
class Lane:
    """One service's events, in time order."""

    service: str
    marks: tuple[Mark, ...]


@dataclass(frozen=True)
class SagaTimeline:
    """One broken client operation: what flagged it, its sagas and how the orchestrator's log says
    each ended, and the lanes of its events."""

    op_id: str
    flagged_by: str
    sagas: str
    span: str
    lanes: tuple[Lane, ...]


@dataclass(frozen=True)
class CellTimelines:
    """A cell's timelines, and how many broken operations were not drawn."""

    timelines: tuple[SagaTimeline, ...]
    not_drawn: int


@dataclass(frozen=True)
class _Event:
    t: float
    service: str
    text: str
    tone: str


def saga_kinds() -> frozenset[str]:
    """The anomaly kinds of the saga checkers: the ones whose operations get a timeline."""
    return frozenset(checker.names.kind for checker in checkers() if isinstance(checker, SagaChecker))


def cell_saga_timelines(cell: CellVerdict, folder: Path, limit: int = TIMELINES_PER_CELL) -> CellTimelines:
    """The timelines of ``cell``'s broken sagas from its folder; none when it has no saga evidence."""
    saga = read_saga_evidence_file(folder / SAGA_FILE)
    if saga is None:
        return CellTimelines((), 0)
    kinds = saga_kinds()
    flagged: dict[str, list[str]] = {}
    attempts: dict[str, tuple[AttemptEnd, ...]] = {}
    for anomaly in cell.anomalies:
        if anomaly.kind in kinds:
            flagged.setdefault(anomaly.op_id, []).append(anomaly_declaration(anomaly.kind).title)
            attempts[anomaly.op_id] = attempts.get(anomaly.op_id) or anomaly.attempts
    hops, crashes = _fault_side(folder / FAULTS_FILE)
    by_reference = _views_by_reference(saga)
    drawable = [op_id for op_id in flagged if op_id in by_reference]  # item anomalies name no saga
    timelines = tuple(
        build_timeline(
            op_id,
            flagged[op_id],
            attempts[op_id],
            by_reference[op_id],
            _participants(saga),
            hops,
            crashes,
        )
        for op_id in drawable[:limit]
    )
    return CellTimelines(timelines, len(drawable) - len(timelines))


def build_timeline(
    op_id: str,
    flagged_by: Sequence[str],
    attempts: Sequence[AttemptEnd],
    views: Sequence[SagaView],
    participants: Sequence[str],
    hops: Sequence[ToxicHit] = (),
    crashes: Sequence[CrashEvent | RestartEvent] = (),
) -> SagaTimeline:
    """One operation's lanes: ``views`` are its sagas, ``hops`` every hop decision of the cell (those
    naming one of its sagas are drawn), ``crashes`` the cell's crashes (those within its span)."""
    several = len(views) > 1
    events = [*_client_events(attempts), *_saga_events(views, several)]
    ids = {view.id: view for view in views}
    events += [_hop_event(hit, ids[hit.saga_id], several) for hit in hops if hit.saga_id in ids]
    start = min((event.t for event in events), default=0.0)
    end = max((event.t for event in events), default=start)
    events += [
        _Event(crash.t, ORCHESTRATOR, describe_fault_event(crash), "fault")
        for crash in crashes
        if start <= crash.t <= end
    ]
    events.sort(key=lambda event: event.t)
    span = max(end - start, 1e-9)
    services = [CLIENT, ORCHESTRATOR, *participants]
    services += sorted({event.service for event in events} - set(services))
    lanes = tuple(
        Lane(
            service,
            tuple(
                Mark(
                    f"+{event.t - start:.3f} s",
                    round(100 * (event.t - start) / span, 2),
                    event.text,
                    event.tone,
                )
                for event in events
                if event.service == service
            ),
        )
        for service in services
    )
    return SagaTimeline(
        op_id=op_id,
        flagged_by=", ".join(dict.fromkeys(flagged_by)),
        sagas="; ".join(_ending(view) for view in views),
        span=format_seconds(end - start),
        lanes=lanes,
    )


def _client_events(attempts: Iterable[AttemptEnd]) -> list[_Event]:
    """Each attempt at the moment it was sent, with how it was answered."""
    return [
        _Event(
            attempt.t - attempt.latency_s,
            CLIENT,
            f"attempt {attempt.attempt} → {attempt.status or attempt.outcome} after "
            f"{format_seconds(attempt.latency_s)}",
            CLIENT,
        )
        for attempt in attempts
    ]


def _saga_events(views: Iterable[SagaView], several: bool) -> list[_Event]:
    """When the orchestrator opened each saga (its log keeps no time for the rest), and every ledger
    row of it."""
    events: list[_Event] = []
    for view in views:
        tag = _tag(view, several)
        if view.record is not None:
            events.append(_Event(view.record.created_at, ORCHESTRATOR, f"opened {view.id}", ORCHESTRATOR))
        for role, row in view.rows:
            key = f"key {row.idempotency_key}" if row.idempotency_key else "no key"
            tone = "forward" if row.kind == role.forward else "compensation"
            text = f"{row.kind} step {row.step}: {row.amount} {row.item} ({key}){tag}"
            events.append(_Event(row.created_at, role.name, text, tone))
    return events


def _hop_event(hit: ToxicHit, view: SagaView, several: bool) -> _Event:
    """A hop fault on the lane of the participant the hop leads to."""
    how = f"{hit.action} {hit.detail}".strip()
    on = f" on {hit.path}" if hit.path else ""
    return _Event(hit.t, hit.link, f"hop fault {hit.toxic}: {how}{on}{_tag(view, several)}", "fault")


def _ending(view: SagaView) -> str:
    """How the orchestrator's log says a saga ended: ``saga_1 compensated (steps done 1, 2;
    compensated 1)``."""
    record = view.record
    if record is None:
        return f"{view.id}: {view.status}"
    done = ", ".join(map(str, record.steps_done)) or "none"
    undone = ", ".join(map(str, record.compensations_done)) or "none"
    return f"{view.id} {record.status} (steps done {done}; compensated {undone})"


def _tag(view: SagaView, several: bool) -> str:
    """Which saga an event belongs to, when the operation began several."""
    return f" [{view.id}]" if several else ""


def _views_by_reference(saga: SagaEvidence) -> dict[str, list[SagaView]]:
    views: dict[str, list[SagaView]] = {}
    for view in saga_views(saga):
        views.setdefault(view.reference, []).append(view)
    return views


def _participants(saga: SagaEvidence) -> list[str]:
    return [read.role.name for read in sorted(saga.participants, key=lambda read: read.role.step)]


def _fault_side(path: Path) -> tuple[list[ToxicHit], list[CrashEvent | RestartEvent]]:
    """The hop decisions that name a saga, and the crashes and restarts, of a cell's fault history."""
    hops: list[ToxicHit] = []
    crashes: list[CrashEvent | RestartEvent] = []
    if not path.exists():
        return hops, crashes
    for event in iter_file(path):
        if isinstance(event, ToxicHit) and event.link != CLIENT_LINK and event.saga_id is not None:
            hops.append(event)
        elif isinstance(event, CrashEvent | RestartEvent):
            crashes.append(event)
    return hops, crashes
