"""What the five saga checkers share: each saga seen across the services, its timeline, and the result.

A saga's truth is spread over four places: the orchestrator's log says how it ended, each participant's
ledger what really took effect. :func:`saga_views` puts them side by side, one :class:`SagaView` per
saga, including the sagas the orchestrator has no record of (ledger rows naming a saga id it does
not know: an orchestrator that forgot a saga in a crash). :func:`saga_timeline` tells one saga's story
in time order across the services, with the faults of the cell that fell within it, so that an
anomaly reads "+0.000 s orchestrator opened saga_1 for op-7; +0.004 s payments: charge step 1 700
cus_1 (key saga_1:1:charge); +0.310 s fault: latency on; ...; the orchestrator ended it compensated".

Never a pass on what was not read (:class:`SagaChecker`): a cell whose scenario declares a
saga and has no saga evidence is ``unknown`` for every saga checker; a participant whose ledger could
not be read makes what depends on it unknown, unless something already broke.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from harness.checkers.base import AnomalyDeclaration, Column, GateRule, Metric
from harness.checkers.evidence import CellEvidence, OpTrace
from harness.history import CrashEvent, FaultEvent
from harness.ledger import Effect
from harness.saga_evidence import (
    DONE,
    PENDING,
    LedgerRow,
    ParticipantRead,
    ParticipantRole,
    SagaEvidence,
    SagaRecord,
)
from harness.verdict import Anomaly, CheckResult, FaultLike

REASONS_SHOWN = 3
"""Parts that could not be judged named in a checker's reason; the count is exact."""

FORGOTTEN = "unknown to the orchestrator"

SAGAS_METRIC = "sagas"
"""A cell's sagas (``saga_settled`` counts them): every saga column shows only where a cell has one."""


@dataclass(frozen=True)
class SagaNames:
    """The names one saga checker puts in run.json, scenarios and reports."""

    broken: str
    """The metric a scenario gates on (``max_<broken>``, ``min_<broken>``)."""
    kind: str
    """The anomaly kind of a broken saga."""

    def declarations(
        self,
        *,
        label: str,
        header: str,
        terminal_header: str,
        title: str,
        words: str,
        what: str,
        more: tuple[Metric, ...] = (),
    ) -> tuple[tuple[Metric, ...], tuple[GateRule, ...], tuple[Column, ...], AnomalyDeclaration]:
        """The checker's metrics (``broken`` first, then ``more``), gates, column and anomaly; ``what``
        names a broken saga in the gates' hints."""
        gates = (
            GateRule(
                f"max_{self.broken}",
                self.broken,
                "max",
                failure_hint=f"{what} (the {self.kind} anomalies tell each saga's story)",
            ),
            GateRule(
                f"min_{self.broken}",
                self.broken,
                "min",
                failure_hint=f"the harness was not sensitive enough to show that {what}",
            ),
        )
        return (
            (Metric(self.broken, "count", label, anomaly_kind=self.kind), *more),
            gates,
            (Column(header, terminal_header, self.broken, shown_when=SAGAS_METRIC),),
            AnomalyDeclaration(self.kind, title, words),
        )


@dataclass(frozen=True)
class SagaView:
    """One saga: the orchestrator's record of it (None: it has none) and every ledger row naming it,
    each with its participant, oldest first."""

    id: str
    record: SagaRecord | None
    rows: tuple[tuple[ParticipantRole, LedgerRow], ...] = ()

    @property
    def status(self) -> str:
        return self.record.status if self.record is not None else FORGOTTEN

    @property
    def reference(self) -> str:
        """The client's op id that began it (the saga id itself when nothing names one)."""
        if self.record is not None:
            return self.record.reference
        return self.rows[0][1].reference if self.rows else self.id

    @property
    def began_at(self) -> float:
        times = [row.created_at for _, row in self.rows]
        if self.record is not None:
            times.append(self.record.created_at)
        return min(times, default=0.0)

    @property
    def last_at(self) -> float:
        return max((row.created_at for _, row in self.rows), default=self.began_at)

    def net(self, role: ParticipantRole) -> int:
        """What the saga's step holds at ``role``: forward amounts less compensated amounts."""
        return sum(
            row.amount if row.kind == role.forward else -row.amount
            for rowed, row in self.rows
            if rowed == role and row.step == role.step and row.kind in (role.forward, role.compensation)
        )

    def expected(self, role: ParticipantRole) -> int | None:
        """What the saga's step should hold at ``role`` by how it ended: the amount asked when done,
        nothing when it ended otherwise or was forgotten; None while pending or when nothing says."""
        if self.status == PENDING:
            return None
        if self.status != DONE:
            return 0
        ask = self.record.ask(role.step) if self.record is not None else None
        return None if ask is None else ask.amount

    def ended_without_completing(self) -> bool:
        """Compensated, failed, or forgotten: nothing will ever make it done, and it holds nothing."""
        return self.status not in (DONE, PENDING)


def saga_views(saga: SagaEvidence) -> list[SagaView]:
    """Every saga the orchestrator knows, in its order, then those only the ledgers name."""
    rows: dict[str, list[tuple[ParticipantRole, LedgerRow]]] = {}
    for read in saga.participants:
        for row in read.rows:
            rows.setdefault(row.saga_id, []).append((read.role, row))
    for saga_rows in rows.values():
        saga_rows.sort(key=lambda pair: pair[1].created_at)
    known = [SagaView(record.id, record, tuple(rows.pop(record.id, ()))) for record in saga.sagas]
    forgotten = [SagaView(saga_id, None, tuple(found)) for saga_id, found in rows.items()]
    return known + sorted(forgotten, key=lambda view: view.began_at)


def readable(saga: SagaEvidence, level: str | None = None) -> tuple[list[ParticipantRead], list[str]]:
    """The participants (of that ``level``, or all) whose ledgers were read, and why the others were not."""
    chosen = [read for read in saga.participants if level is None or read.role.level == level]
    return [read for read in chosen if read.error is None], [
        f"the ledger of {read.role.name} could not be read ({read.error})" for read in chosen if read.error
    ]


# -- the words of a saga's story ------------------------------------------------------------------------


def step_words(role: ParticipantRole) -> str:
    """``the charge of step 1 at payments``."""
    return f"the {role.forward} of step {role.step} at {role.name}"


def row_words(role: ParticipantRole, row: LedgerRow) -> str:
    """``payments: refund step 1 700 cus_1 (key saga_1:1:refund)``."""
    key = f"key {row.idempotency_key}" if row.idempotency_key else "no key"
    return f"{role.name}: {row.kind} step {row.step} {row.amount} {row.item} ({key})"


def _fault_words(event: FaultLike) -> str:
    if isinstance(event, FaultEvent):
        return f"fault: {event.name} {event.action}"
    if isinstance(event, CrashEvent):
        return f"crash ({event.reason})"
    return "restart"


def _end_words(view: SagaView) -> str:
    record = view.record
    if record is None:
        return "the orchestrator has no record of this saga"
    done = ", ".join(map(str, record.steps_done)) or "none"
    undone = ", ".join(map(str, record.compensations_done)) or "none"
    return f"the orchestrator's log: {record.status} (steps done: {done}; compensations done: {undone})"


def saga_timeline(view: SagaView, faults: Sequence[FaultLike] = ()) -> str:
    """The saga in time order across the services, with ``faults`` that fell within it, then its end
    as the orchestrator's log tells it."""
    start = view.began_at
    moments: list[tuple[float, str]] = []
    if view.record is not None:
        moments.append((view.record.created_at, f"orchestrator opened {view.id} for {view.reference}"))
    moments += [(row.created_at, row_words(role, row)) for role, row in view.rows]
    moments += [(event.t, _fault_words(event)) for event in faults if start <= event.t <= view.last_at]
    moments.sort(key=lambda moment: moment[0])
    told = "; ".join(f"+{t - start:.3f} s {words}" for t, words in moments)
    return f"{told}; {_end_words(view)}" if told else _end_words(view)


# -- results --------------------------------------------------------------------------------------------


@dataclass
class SagaFindings:
    """What one saga checker found: broken sagas with what broke, and the parts it could not judge."""

    broken: list[tuple[SagaView, str]] = field(default_factory=list)
    unjudged: list[str] = field(default_factory=list)
    other_anomalies: list[Anomaly] = field(default_factory=list)
    """Anomalies about an item rather than a saga (a level that disagrees with its ledger)."""

    def flag(self, view: SagaView, finding: str) -> None:
        self.broken.append((view, finding))

    def cannot_judge(self, part: str) -> None:
        self.unjudged.append(part)


def _without_saga_evidence(name: str, metrics: Iterable[str], evidence: CellEvidence) -> CheckResult | None:
    """The result of a saga checker on a cell with no saga evidence to judge (None: it has some):
    ``unknown`` when the scenario declares a saga (or the orchestrator could not be read), a pass
    with zeros for a cell that has no saga at all."""
    saga = evidence.saga
    if saga is not None and saga.error is None:
        return None
    if saga is None and not evidence.expect.saga:
        return CheckResult(checker=name, validity="valid", numbers=dict.fromkeys(metrics, 0))
    why = "no saga evidence was read for the cell" if saga is None else saga.unreadable()[0]
    return CheckResult(checker=name, validity="unknown", reason=f"{name}: {why}")


def _saga_result(
    name: str, kind: str, numbers: dict[str, float], findings: SagaFindings, evidence: CellEvidence
) -> CheckResult:
    """``invalid`` when a saga broke (whatever else is unknown), ``unknown`` when a part could not be
    judged, else ``valid``; each broken saga an anomaly telling its story."""
    reason = None
    if findings.unjudged:
        named = "; ".join(findings.unjudged[:REASONS_SHOWN])
        reason = f"{name}: {len(findings.unjudged)} part(s) could not be judged ({named})"
    broken = bool(findings.broken or findings.other_anomalies)
    return CheckResult(
        checker=name,
        validity="invalid" if broken else "unknown" if reason else "valid",
        numbers=numbers,
        anomalies=(*_saga_anomalies(kind, findings.broken, evidence), *findings.other_anomalies),
        reason=reason,
    )


def _saga_anomalies(
    kind: str, broken: list[tuple[SagaView, str]], evidence: CellEvidence
) -> tuple[Anomaly, ...]:
    """One anomaly per client operation (a retried checkout may have begun several sagas), with its
    attempts when the history has them, and each of its broken sagas' findings and timeline."""
    by_op: dict[str, list[tuple[SagaView, str]]] = {}
    for view, finding in broken:
        by_op.setdefault(view.reference, []).append((view, finding))
    traces = list(_traces(by_op, evidence))

    def explain(trace: OpTrace, op_effects: list[Effect]) -> str:
        return " | ".join(
            f"saga {view.id}: {finding}. Timeline: {saga_timeline(view, evidence.fault_events)}"
            for view, finding in by_op[trace.op_id]
        )

    return evidence.anomalies(kind, traces, explain)


def _traces(by_op: dict[str, list[tuple[SagaView, str]]], evidence: CellEvidence) -> Iterator[OpTrace]:
    for op_id, flagged in by_op.items():
        trace = evidence.ops.get(op_id)
        if trace is None:  # no history of the operation (a probe run on its own): the sagas' own times
            began = min(view.began_at for view, _ in flagged)
            last = max(view.last_at for view, _ in flagged)
            trace = OpTrace(op_id, start_t=began, last_event_t=last)
        yield trace


def item_anomaly(kind: str, role: ParticipantRole, item: str, explanation: str) -> Anomaly:
    """An anomaly about one item of a participant (not one saga's): ``op_id`` names them."""
    return Anomaly(
        kind=kind,
        op_id=f"{role.name}:{item}",
        effect_count=0,
        resource_ids=(),
        attempts=(),
        explanation=explanation,
    )


class SagaChecker:
    """A saga checker: a subclass declares its names and says how a cell's sagas are judged
    (:meth:`judge`); :class:`SagaChecker` keeps it honest about cells without saga evidence."""

    name: ClassVar[str]
    order: ClassVar[int]
    names: ClassVar[SagaNames]
    metrics: ClassVar[tuple[Metric, ...]]
    gates: ClassVar[tuple[GateRule, ...]]
    columns: ClassVar[tuple[Column, ...]]
    anomaly: ClassVar[AnomalyDeclaration]

    def judge(self, evidence: CellEvidence, saga: SagaEvidence) -> tuple[dict[str, float], SagaFindings]:
        """The checker's numbers and findings on a cell whose sagas were read."""
        raise NotImplementedError

    def check(self, evidence: CellEvidence) -> CheckResult:
        missing = _without_saga_evidence(self.name, (metric.name for metric in self.metrics), evidence)
        if missing is not None:
            return missing
        assert evidence.saga is not None
        numbers, findings = self.judge(evidence, evidence.saga)
        return _saga_result(self.name, self.names.kind, numbers, findings, evidence)
