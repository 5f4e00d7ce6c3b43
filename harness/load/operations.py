"""Logical operations: their ids, their kinds, their exact requests, and the counter that hands them out.

Everything here is a pure function of the cell's seed and the operation's number, so the same
seed produces the same operations whichever user runs them and in whatever order; and an
operation's request is built once, so every retry resends the identical bytes and headers. Each
decision about an operation (its kind, whether it is double-submitted, its template values) draws
from its own seeded stream, so adding one kind of draw never shifts another.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Protocol

from harness.jsonpath import dig, scalar_text
from harness.load.config import LoadCellConfig
from harness.scenario import OperationSpec, ResourceSpec, SuccessSpec
from harness.template import OpContext, Renderer

KEY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "idempotency-harness.invalid")
"""uuid5 namespace of Idempotency-Keys: a key depends only on the seed and the op id."""

JSON_CONTENT_TYPE = "application/json"


def op_id_for(prefix: str, number: int) -> str:
    return f"{prefix}{number:06d}"


def idempotency_key(seed: int, op_id: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, f"{seed}/{op_id}"))


def operation_rng(seed: int, op_id: str, purpose: str) -> random.Random:
    """A random stream for one purpose of one operation (string seeds hash the same in every process)."""
    return random.Random(f"{seed}/{op_id}/{purpose}")


@dataclass(frozen=True)
class OperationRequest:
    """One logical operation's HTTP request, built once and resent unchanged by every attempt.

    ``body`` is ``None`` for a kind declared without one (nothing is sent, no Content-Type).
    ``double_submit`` says the first attempt goes out twice at once.
    """

    op_id: str
    number: int
    kind: str
    method: str
    path: str
    body: bytes | None
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    key: str | None = None
    resource_id_field: str = "id"
    double_submit: bool = False
    success: SuccessSpec | None = None
    """The kind's rule for an answer that means done (``None``: any 2xx)."""
    flow: str | None = None
    """A flow kind's ``module:function``: each attempt runs it (method, path and body are unused)."""
    python_path: tuple[str, ...] = ()
    template: OpContext | None = None
    """What the flow's ``ctx.render`` and ``ctx.key`` use (flow kinds only)."""
    then: ResourceAct | None = None
    """This is the create step of an operation on a resource: the act to run once it named the resource."""


def choose_kind(seed: int, op_id: str, kinds: tuple[OperationSpec, ...]) -> OperationSpec:
    """The operation's kind, drawn by weight from the op's own stream (no draw when there is one kind)."""
    if len(kinds) == 1:
        return kinds[0]
    rng = operation_rng(seed, op_id, "kind")
    return rng.choices(kinds, weights=[kind.weight for kind in kinds])[0]


def is_double_submitted(seed: int, op_id: str, probability: float) -> bool:
    """Whether the op's first attempt is sent twice at once (never drawn when the probability is 0)."""
    return probability > 0 and operation_rng(seed, op_id, "double_submit").random() < probability


def build_request(config: LoadCellConfig, prefix: str, number: int) -> OperationRequest:
    """The request of operation ``number``: its kind's templates rendered for this op.

    For a kind with ``resource:`` it is the request of the op's create step, whose ``then`` builds
    the act once the create has answered with the resource's id."""
    op_id = op_id_for(prefix, number)
    kind = choose_kind(config.seed, op_id, config.kinds)
    key = idempotency_key(config.seed, op_id)
    template = OpContext(config.seed, op_id, number, key, config.load.amount_min, config.load.amount_max)
    sent_key = key if config.load.send_idempotency_key else None
    double_submit = is_double_submitted(config.seed, op_id, config.load.double_submit)
    if kind.resource is not None:
        return create_step(kind, template, sent_key is not None, double_submit, config.load.double_submit)
    if kind.flow is not None:
        return OperationRequest(
            op_id=op_id,
            number=number,
            kind=kind.name,
            method="",
            path="",
            body=None,
            key=sent_key,
            double_submit=double_submit,
            success=kind.success,
            flow=kind.flow,
            python_path=kind.python_path,
            template=template,
        )
    return render_request(
        kind,
        template,
        kind=kind.name,
        key_header=kind.key_header,
        sent_key=sent_key,
        id_field=kind.resource_id_field,
        success=kind.success,
        double_submit=double_submit,
    )


class RequestTemplate(Protocol):
    """What a request is rendered from: an operation kind, or the create step of its resource."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def body(self) -> Any: ...


def render_request(
    spec: RequestTemplate,
    template: OpContext,
    *,
    kind: str,
    key_header: str,
    sent_key: str | None,
    id_field: str,
    success: SuccessSpec | None,
    double_submit: bool,
) -> OperationRequest:
    """The request of the op ``template`` describes, ``spec``'s templates rendered for it."""
    renderer = Renderer(template)
    path = renderer.text(spec.path)
    headers: dict[str, str] = {}
    body: bytes | None = None
    if spec.body is not None:
        body = json.dumps(renderer.json(spec.body), separators=(",", ":")).encode()
        headers["Content-Type"] = JSON_CONTENT_TYPE
    for name, value in spec.headers.items():
        _set_header(headers, name, renderer.text(value))
    if sent_key is not None:
        _set_header(headers, key_header, sent_key)
    return OperationRequest(
        op_id=template.op_id,
        number=template.seq,
        kind=kind,
        method=spec.method,
        path=path,
        body=body,
        headers=MappingProxyType(headers),
        key=sent_key,
        resource_id_field=id_field,
        double_submit=double_submit,
        success=success,
    )


CREATE_SUFFIX = ".create"
"""An operation's create step is the logical operation ``<op_id>.create``, of kind ``<kind>.create``."""
TWIN_SUFFIX = ".twin"
"""The key of a twin's request derives from ``<op_id of the request it mirrors>.twin``."""


@dataclass(frozen=True)
class ResourceAct:
    """The act of an operation on a resource it makes first (a kind with ``resource:``).

    Its request can only be built once the create step has answered with the resource's id; it is
    then built once (:meth:`request`), so every retry resends the identical bytes, and it is still a
    pure function of the seed, the op id and that id. The same templates give the *twin* the state
    reads make after the load: the same requests with keys of their own and the twin's id.
    """

    kind: OperationSpec
    template: OpContext
    """The act's op context, ``resource`` not yet known."""
    sends_key: bool
    double_submit: bool = False

    @property
    def op_id(self) -> str:
        return self.template.op_id

    @property
    def key(self) -> str | None:
        """The act's Idempotency-Key as sent (``None`` when the load sends none)."""
        return self.template.key if self.sends_key else None

    @property
    def resource(self) -> ResourceSpec:
        assert self.kind.resource is not None, "a ResourceAct is made for a kind with resource: only"
        return self.kind.resource

    def request(self, resource: str, *, twin: bool = False) -> OperationRequest:
        """The act on ``resource``; ``twin``: the twin's (its own key, never double-submitted)."""
        kind, template = self.kind, replace(self.template, resource=resource)
        return self._render(kind, template, kind.name, kind.resource_id_field, kind.success,
                            twin=twin, double_submit=self.double_submit)  # fmt: skip

    def create(self, *, twin: bool = False, double_submit: bool = False) -> OperationRequest:
        """The create step: its own op (``<op_id>.create``, its own key), sent with the kind's key header."""
        template = replace(self.template, op_id=f"{self.op_id}{CREATE_SUFFIX}")
        create = self.resource.create
        return self._render(
            create,
            template,
            f"{self.kind.name}{CREATE_SUFFIX}",
            create.id_field,
            None,
            twin=twin,
            double_submit=double_submit,
        )

    def state_path(self, resource: str) -> str:
        """Where ``resource`` is read after the load (``resource.state.path`` rendered for it)."""
        return Renderer(replace(self.template, resource=resource)).text(self.resource.state.path)

    def _render(
        self,
        spec: RequestTemplate,
        template: OpContext,
        kind: str,
        id_field: str,
        success: SuccessSpec | None,
        *,
        twin: bool,
        double_submit: bool,
    ) -> OperationRequest:
        """``spec`` rendered for ``template``'s op, with the key of that op (or of its twin)."""
        key_of = f"{template.op_id}{TWIN_SUFFIX}" if twin else template.op_id
        template = replace(template, key=idempotency_key(template.seed, key_of))
        sent_key = template.key if self.sends_key else None
        return render_request(
            spec,
            template,
            kind=kind,
            key_header=self.kind.key_header,
            sent_key=sent_key,
            id_field=id_field,
            success=success,
            double_submit=double_submit and not twin,
        )


def create_step(
    kind: OperationSpec, template: OpContext, sends_key: bool, double_submit: bool, probability: float
) -> OperationRequest:
    """The first request of an operation on a resource: its create step, which says (``then``) what
    follows. The act keeps its op's double-submit draw; the create draws its own."""
    act = ResourceAct(kind, template, sends_key, double_submit)
    create_id = f"{act.op_id}{CREATE_SUFFIX}"
    create_double = is_double_submitted(template.seed, create_id, probability)
    return replace(act.create(double_submit=create_double), then=act)


def _set_header(headers: dict[str, str], name: str, value: str) -> None:
    """Set a header, replacing one of the same name in any case (HTTP names are case-insensitive)."""
    for existing in [h for h in headers if h.lower() == name.lower()]:
        del headers[existing]
    headers[name] = value


def resource_id_at(body: object, dotted: str) -> str | None:
    """The value at ``dotted`` ("id", "data.id", "items.0.id") in a decoded JSON body, as text."""
    return scalar_text(dig(body, dotted))


class OperationQueue:
    """Hands out operation numbers ``0..total-1`` exactly once across all users, and counts the ends.

    While held (:meth:`hold`) it keeps handing out numbers past the budget, until :meth:`release`:
    the load then runs on until the nemesis has made its planned crashes, so that none of them
    falls after the last operation. ``total`` counts every number handed out past the budget.

    A lock rather than a bare counter: under gevent it costs nothing, and the same class stays
    correct if a caller ever uses real threads.
    """

    def __init__(self, total: int) -> None:
        if total < 0:
            raise ValueError(f"total must not be negative (got {total})")
        self.budget = total
        self.first_taken_at: float | None = None
        """When the first number was handed out (``time.time()``): the load's first operation."""
        self._next = 0
        self._completed = 0
        self._held = False
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """The next operation number, or ``None`` once all have been handed out (and not held)."""
        with self._lock:
            if self._next >= self.budget and not self._held:
                return None
            if self.first_taken_at is None:
                self.first_taken_at = time.time()
            number = self._next
            self._next += 1
            return number

    def finish(self) -> None:
        with self._lock:
            self._completed += 1

    def hold(self) -> None:
        """Keep handing out numbers past the budget until :meth:`release`."""
        self._held = True

    def release(self) -> None:
        self._held = False

    def stop_taking(self) -> bool:
        """Hand out no more numbers, held or not: the operations already taken are the last ones.

        Returns whether that withheld any (``False``: every number was handed out already)."""
        with self._lock:
            withheld = self._held or self._next < self.budget
            self.budget = min(self.budget, self._next)
            self._held = False
            return withheld

    @property
    def held(self) -> bool:
        return self._held

    @property
    def total(self) -> int:
        """The budget, or the numbers handed out if the queue was held past it."""
        return max(self.budget, self._next)

    @property
    def started(self) -> int:
        return self._next

    @property
    def completed(self) -> int:
        return self._completed

    @property
    def done(self) -> bool:
        return not self._held and self._completed >= self.total
