"""What the four checkers of the HTTP method contract share: which operations are theirs, and the count.

PUT, PATCH, DELETE, GET and HEAD act on a resource the operation made first (its create step is an
operation of its own, ``<op_id>.create``). Whether retries broke the method's contract shows in the
resource's state read after the load (:mod:`harness.resource_states`), beside its *twin*'s. Each
checker (:mod:`~harness.checkers.put_state`, :mod:`~harness.checkers.patch_state`,
:mod:`~harness.checkers.delete_outcome`, :mod:`~harness.checkers.safe_methods`) says only how one
operation is judged from its state, attempts and effects; :class:`MethodContract` does the rest.

Which operations are a checker's: those whose state names one of its methods. An operation on a
resource is known from the history without its method: its create step ``<op_id>.create`` is there.
One whose create was acknowledged, or that was sent, must have a state; one without (never read) is
*unknown*, and counts for every method the scenario puts on a resource, since the history does not
say which method it was. Never a pass on what was not read:

* the scenario puts operations of a checker's method on a resource (``CellExpectations.
  resource_methods``) and the cell has no state of one (a running cell has none at all: they are
  read once its load has ended): the checker is ``unknown``, so the adaptive stop never decides a
  gate on it, and a cell where none was made tested nothing;
* an operation's state is missing, or one of its reads failed: that operation is unknown (counted in
  the checker's ``..._unknown``), and the checker is ``unknown`` unless it found a broken one;
* a broken operation makes it ``invalid`` whatever else is unknown (one more read can only add to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from harness.checkers.base import AnomalyDeclaration, Column, GateRule, Metric
from harness.checkers.evidence import CellEvidence, OpTrace
from harness.checkers.story import attempts_story
from harness.ledger import Effect
from harness.resource_states import ResourceRead, ResourceState
from harness.verdict import CheckResult

CREATE_SUFFIX = ".create"
"""The op id of an operation's create step is the operation's own op id with this after it."""

REASONS_SHOWN = 3
"""Unknown operations named in a checker's reason; the count is exact."""

VALUE_WIDTH = 60
"""Characters of a field's value shown in a story before it is cut."""


@dataclass(frozen=True)
class Judgement:
    """One operation judged from its state: ``broken`` True, False, or None when it cannot be told;
    ``found`` says what the evidence shows, in words a reader can check."""

    broken: bool | None
    found: str


@dataclass(frozen=True)
class ContractNames:
    """The names one checker of the contract puts in run.json, scenarios and reports."""

    broken: str
    """The metric a scenario gates on: operations that broke the contract."""
    ops: str
    """Operations of the checker's methods in the cell (judged or not); its column shows only then."""
    unknown: str
    """Operations that could not be judged: no state read, or a read that failed."""
    kind: str
    """The anomaly kind of a broken operation."""

    def declarations(
        self, *, label: str, header: str, terminal_header: str, title: str, words: str, what: str
    ) -> tuple[tuple[Metric, ...], tuple[GateRule, ...], tuple[Column, ...], AnomalyDeclaration]:
        """The checker's metrics, gates (``max_`` and ``min_`` on :attr:`broken`), column and anomaly;
        ``what`` names a broken operation in the gates' hints (``a PUT ... left ...``)."""
        metrics = (
            # not compared with a baseline: one recorded before these checkers existed lacks it
            Metric(self.broken, "count", label, anomaly_kind=self.kind),
            Metric(self.ops, "count", f"{label}: operations judged or not"),
            Metric(self.unknown, "count", f"{label}: operations that could not be judged"),
        )
        gates = (
            GateRule(
                f"max_{self.broken}",
                self.broken,
                "max",
                failure_hint=f"{what} (the {self.kind} anomalies show each one's attempts and states)",
            ),
            GateRule(
                f"min_{self.broken}",
                self.broken,
                "min",
                failure_hint=f"the harness was not sensitive enough to show that {what}",
            ),
        )
        columns = (Column(header, terminal_header, self.broken, shown_when=self.ops),)
        return metrics, gates, columns, AnomalyDeclaration(self.kind, title, words, out_of=self.ops)


class MethodContract:
    """A checker of the method contract for the operations of :attr:`methods`: a subclass declares its
    names and methods and says how one operation is judged (:meth:`judge`)."""

    name: ClassVar[str]
    order: ClassVar[int]
    methods: ClassVar[frozenset[str]]
    names: ClassVar[ContractNames]
    metrics: ClassVar[tuple[Metric, ...]]
    gates: ClassVar[tuple[GateRule, ...]]
    columns: ClassVar[tuple[Column, ...]]
    anomaly: ClassVar[AnomalyDeclaration]

    def judge(self, state: ResourceState, trace: OpTrace | None, effects: Sequence[Effect]) -> Judgement:
        """Whether the operation of ``state`` broke the contract (``trace``: its attempts in the
        history, when there; ``effects``: the ledger's effects attributed to its op id)."""
        raise NotImplementedError

    def check(self, evidence: CellEvidence) -> CheckResult:
        names = self.names
        read = evidence.states if evidence.states is not None else {}
        mine = [state for state in read.values() if state.method in self.methods]
        declared = evidence.expect.resource_methods | {state.method for state in read.values()}
        concerned = bool(self.methods & declared)
        # an operation never read has no method on record: it is every concerned checker's unknown
        unread = evidence.shared("method_contract.unread", _unread) if concerned or not declared else []
        judged = {state.op_id: self._judge(evidence, state) for state in mine}
        broken = [op_id for op_id, said in judged.items() if said.broken]
        unknown = [(op_id, said.found) for op_id, said in judged.items() if said.broken is None]
        unknown += [(op_id, "no state of its resource was read") for op_id in unread]
        operations = len(mine) + len(unread)
        reason = None
        if concerned and not mine:
            later = " (they are read once the load has ended)" if evidence.states is None else ""
            methods = "/".join(sorted(self.methods & declared))
            reason = f"{self.name}: no {methods} operation of the cell had its resource read{later}"
        elif unknown:
            named = "; ".join(f"{op_id}: {why}" for op_id, why in unknown[:REASONS_SHOWN])
            reason = f"{self.name}: {len(unknown)} of {operations} operations could not be judged ({named})"

        def explain(trace: OpTrace, op_effects: list[Effect]) -> str:
            state = read[trace.op_id]
            return f"{state.method} {state.path}: {attempts_story(trace)}; {judged[trace.op_id].found}"

        flagged = [evidence.ops.get(op_id) or OpTrace(op_id, start_t=0.0) for op_id in broken]
        return CheckResult(
            checker=self.name,
            validity="invalid" if broken else "unknown" if reason else "valid",
            numbers={names.broken: len(broken), names.ops: operations, names.unknown: len(unknown)},
            anomalies=evidence.anomalies(names.kind, flagged, explain),
            reason=reason,
        )

    def _judge(self, evidence: CellEvidence, state: ResourceState) -> Judgement:
        trace = evidence.ops.get(state.op_id)
        effects = trace.effects if trace is not None and trace.effects is not None else ()
        return self.judge(state, trace, effects)


def on_resource(evidence: CellEvidence, op_id: str) -> bool:
    """Whether ``op_id`` acted on a resource its create step made (its truth is that resource's state:
    a PUT or a GET keeping its contract leaves no effect of its own in the ledger)."""
    return f"{op_id}{CREATE_SUFFIX}" in evidence.ops


def _unread(evidence: CellEvidence) -> list[str]:
    """Operations on a resource that must have a state and have none: their create step was
    acknowledged, or they were sent (the same for every method's checker: made once, by
    :meth:`~harness.checkers.evidence.CellEvidence.shared`)."""
    ops = evidence.ops
    states = evidence.states if evidence.states is not None else {}
    unread = []
    for op_id, create in ops.items():
        if not op_id.endswith(CREATE_SUFFIX):
            continue
        act_id = op_id[: -len(CREATE_SUFFIX)]
        if act_id in states:
            continue
        act = ops.get(act_id)
        if create.outcome == "acknowledged" or (act is not None and act.attempt_starts > 0):
            unread.append(act_id)
    return unread


# -- the words of a state's story ---------------------------------------------------------------------


def read_words(read: ResourceRead) -> str:
    """``200``, ``404``, or ``no answer (ConnectError: ...)``."""
    if read.status is None:
        return f"no answer ({read.error or 'the read failed'})"
    return str(read.status)


def twin_words(state: ResourceState) -> str:
    """What the twin is: the same resource made the same way, the request applied once or not at all."""
    done = "the request applied once" if state.twin_applied else "never sent the request"
    return f"its twin ({done})"


def _value(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= VALUE_WIDTH else text[: VALUE_WIDTH - 1] + "…"


def differences(state: ResourceState) -> str:
    """``address_changes: 1 on the twin, 3 here; address: ...``: the fields the two reads differ in."""
    assert state.twin is not None
    twin, after = state.compared(state.twin), state.compared(state.after)
    if not (isinstance(twin, dict) and isinstance(after, dict)):
        return f"{_value(twin)} on the twin, {_value(after)} here"
    missing = object()
    parts = []
    for name in sorted(twin.keys() | after.keys()):
        there, here = twin.get(name, missing), after.get(name, missing)
        if there != here:
            shown = [("absent" if value is missing else _value(value)) for value in (there, here)]
            parts.append(f"{name}: {shown[0]} on the twin, {shown[1]} here")
    return "; ".join(parts) or "nothing but the status"


def unreadable(state: ResourceState) -> str | None:
    """Why the resource and its twin cannot be compared (a read failed, no twin), or None."""
    if state.after.status is None:
        return f"the resource's read got {read_words(state.after)}"
    if state.twin is None:
        return "no twin was made to compare it with"
    if state.twin.status is None:
        return f"its twin's read got {read_words(state.twin)}"
    return None


def compare_with_twin(state: ResourceState) -> Judgement:
    """The resource reads as its twin does (but for the ignored fields), or not, or cannot be told."""
    why = unreadable(state)
    if why is not None:
        return Judgement(None, why)
    assert state.twin is not None
    if state.matches_twin():
        return Judgement(False, f"the resource reads as {twin_words(state)}")
    return Judgement(
        True,
        f"{twin_words(state)} reads {read_words(state.twin)}, the resource reads "
        f"{read_words(state.after)}; they differ in {differences(state)}",
    )
