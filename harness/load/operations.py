"""Logical operations: their ids, their kinds, their exact requests, and the counter that hands them out.

Everything here is a pure function of the cell's seed and the operation's number, so the same
seed produces the same operations whichever user runs them and in whatever order; and an
operation's request is built once, so every retry resends the identical bytes and headers. Each
decision about an operation (its kind, whether it is double-submitted, its template values) draws
from its own seeded stream, so adding one kind of draw never shifts another.
"""

from __future__ import annotations

import hashlib
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
from harness.template import JsonTemplate, OpContext, Placeholder, Renderer, compile_json, parse

KEY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "idempotency-harness.invalid")
"""uuid5 namespace of Idempotency-Keys: a key depends only on the seed and the op id."""

_NAMESPACE_BYTES = KEY_NAMESPACE.bytes
_RFC_4122_VARIANT = "89ab"
"""A uuid5's 17th hex digit: the variant bits 10 over the hash's two low bits of that digit."""

JSON_CONTENT_TYPE = "application/json"


def op_id_for(prefix: str, number: int) -> str:
    return f"{prefix}{number:06d}"


def idempotency_key(seed: int, op_id: str) -> str:
    """``str(uuid.uuid5(KEY_NAMESPACE, f"{seed}/{op_id}"))``, spelled out: a third of uuid5's cost."""
    digest = hashlib.sha1(_NAMESPACE_BYTES + f"{seed}/{op_id}".encode()).hexdigest()
    variant = _RFC_4122_VARIANT[int(digest[16], 16) & 0x3]
    return f"{digest[:8]}-{digest[8:12]}-5{digest[13:16]}-{variant}{digest[17:20]}-{digest[20:32]}"


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
    return RequestBuilder(config, prefix).build(number)


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


HeaderSource = str | int | None
"""Where a request header's value comes from: this text, the template's header at this index, or the key."""


@dataclass(frozen=True)
class KindPlan:
    """What of one request template is the same for every op: its templates parsed, its headers laid out.

    Made once per kind (and per resource kind's create step), so an op's request is its per-op values
    joined into it. ``header_values`` are the template's header values, rendered for every op in this
    order (also a header the key then replaces: its draws still come before the key's, as they always
    did); ``headers`` names the request's headers in their order, each with its :data:`HeaderSource`.
    """

    method: str
    path: tuple[str | Placeholder, ...]
    body: JsonTemplate | None
    header_values: tuple[tuple[str | Placeholder, ...], ...]
    headers: tuple[tuple[str, HeaderSource], ...]

    @classmethod
    def of(cls, spec: RequestTemplate, key_header: str, send_key: bool) -> KindPlan:
        layout: dict[str, HeaderSource] = {}
        if spec.body is not None:
            layout["Content-Type"] = JSON_CONTENT_TYPE
        for index, name in enumerate(spec.headers):
            _set_header(layout, name, index)
        if send_key:
            _set_header(layout, key_header, None)
        return cls(
            method=spec.method,
            path=parse(spec.path),
            body=None if spec.body is None else compile_json(spec.body),
            header_values=tuple(parse(value) for value in spec.headers.values()),
            headers=tuple(layout.items()),
        )


def render_request(
    plan: KindPlan,
    template: OpContext,
    *,
    kind: str,
    sent_key: str | None,
    id_field: str,
    success: SuccessSpec | None,
    double_submit: bool,
) -> OperationRequest:
    """The request of the op ``template`` describes, ``plan``'s templates rendered for it.

    ``sent_key`` fills the key header the plan laid out (a plan made without one has none)."""
    renderer = Renderer(template)
    path = renderer.joined(plan.path)  # path, body, then headers: the order of the op's draws
    body = None if plan.body is None else renderer.json_text(plan.body).encode()
    values = [renderer.joined(parts) for parts in plan.header_values]
    headers = {
        name: (sent_key or "") if source is None else source if isinstance(source, str) else values[source]
        for name, source in plan.headers
    }
    return OperationRequest(
        op_id=template.op_id,
        number=template.seq,
        kind=kind,
        method=plan.method,
        path=path,
        body=body,
        headers=MappingProxyType(headers),
        key=sent_key,
        resource_id_field=id_field,
        double_submit=double_submit,
        success=success,
    )


class RequestBuilder:
    """Builds the requests of one cell's operations (``prefix`` + number as op ids).

    Each kind's :class:`KindPlan` (and its create step's, for a kind with ``resource:``) is made
    once, when an op first draws that kind (so a kind that cannot be built fails where it always
    did, in the user that draws it); an op's request is then its per-op values joined into it.
    """

    def __init__(self, config: LoadCellConfig, prefix: str) -> None:
        self.config = config
        self.prefix = prefix
        self._plans: dict[str, tuple[KindPlan, KindPlan | None]] = {}

    def plans(self, kind: OperationSpec) -> tuple[KindPlan, KindPlan | None]:
        """The kind's plan, and its create step's (``None`` for a kind without ``resource:``)."""
        plans = self._plans.get(kind.name)
        if plans is None:
            send_key = self.config.load.send_idempotency_key
            create = None if kind.resource is None else kind.resource.create
            plans = self._plans[kind.name] = (
                KindPlan.of(kind, kind.key_header, send_key),
                None if create is None else KindPlan.of(create, kind.key_header, send_key),
            )
        return plans

    def build(self, number: int) -> OperationRequest:
        config = self.config
        op_id = op_id_for(self.prefix, number)
        kind = choose_kind(config.seed, op_id, config.kinds)
        key = idempotency_key(config.seed, op_id)
        template = OpContext(config.seed, op_id, number, key, config.load.amount_min, config.load.amount_max)
        sends_key = config.load.send_idempotency_key
        double_submit = is_double_submitted(config.seed, op_id, config.load.double_submit)
        if kind.flow is not None:
            return OperationRequest(
                op_id=op_id,
                number=number,
                kind=kind.name,
                method="",
                path="",
                body=None,
                key=key if sends_key else None,
                double_submit=double_submit,
                success=kind.success,
                flow=kind.flow,
                python_path=kind.python_path,
                template=template,
            )
        plan, create_plan = self.plans(kind)
        if create_plan is not None:
            act = ResourceAct(kind, template, sends_key, plan, create_plan, double_submit)
            return create_step(act, config.load.double_submit)
        return render_request(
            plan,
            template,
            kind=kind.name,
            sent_key=key if sends_key else None,
            id_field=kind.resource_id_field,
            success=kind.success,
            double_submit=double_submit,
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
    reads make after the load: the same requests with keys of their own and the twin's id. Both are
    rendered from the plans the :class:`RequestBuilder` compiled for the kind and its create step.
    """

    kind: OperationSpec
    template: OpContext
    """The act's op context, ``resource`` not yet known."""
    sends_key: bool
    plan: KindPlan = field(compare=False, repr=False)
    """The act's request plan (made from ``kind``, so left out of equality)."""
    create_plan: KindPlan = field(compare=False, repr=False)
    """The create step's request plan (made from ``kind.resource.create``)."""
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
        return self._render(self.plan, template, kind.name, kind.resource_id_field, kind.success,
                            twin=twin, double_submit=self.double_submit)  # fmt: skip

    def create(self, *, twin: bool = False, double_submit: bool = False) -> OperationRequest:
        """The create step: its own op (``<op_id>.create``, its own key), sent with the kind's key header."""
        template = replace(self.template, op_id=f"{self.op_id}{CREATE_SUFFIX}")
        return self._render(
            self.create_plan,
            template,
            f"{self.kind.name}{CREATE_SUFFIX}",
            self.resource.create.id_field,
            None,
            twin=twin,
            double_submit=double_submit,
        )

    def state_path(self, resource: str) -> str:
        """Where ``resource`` is read after the load (``resource.state.path`` rendered for it)."""
        return Renderer(replace(self.template, resource=resource)).text(self.resource.state.path)

    def _render(
        self,
        plan: KindPlan,
        template: OpContext,
        kind: str,
        id_field: str,
        success: SuccessSpec | None,
        *,
        twin: bool,
        double_submit: bool,
    ) -> OperationRequest:
        """``plan`` rendered for ``template``'s op, with the key of that op (or of its twin)."""
        key_of = f"{template.op_id}{TWIN_SUFFIX}" if twin else template.op_id
        template = replace(template, key=idempotency_key(template.seed, key_of))
        return render_request(
            plan,
            template,
            kind=kind,
            sent_key=template.key if self.sends_key else None,
            id_field=id_field,
            success=success,
            double_submit=double_submit and not twin,
        )


def create_step(act: ResourceAct, probability: float) -> OperationRequest:
    """The first request of an operation on a resource: its create step, which says (``then``) what
    follows. The act keeps its op's double-submit draw; the create draws its own."""
    create_id = f"{act.op_id}{CREATE_SUFFIX}"
    create_double = is_double_submitted(act.template.seed, create_id, probability)
    return replace(act.create(double_submit=create_double), then=act)


def _set_header(headers: dict[str, HeaderSource], name: str, value: HeaderSource) -> None:
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
