"""The ``load`` block and the target's operation kinds: what the load driver sends, and how it retries.

These models are also what the load driver process receives (inside
:class:`harness.load.config.LoadCellConfig`, as JSON), so they are validated once, here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from harness.imports import CallableImportError, import_callable
from harness.jsonpath import MISSING, dig
from harness.scenario._base import CALLABLE_PATTERN, HeaderName, HeaderValue, Identifier, _Strict, base_dir
from harness.template import placeholder_used, validate_template

RetryOn = Literal["timeout", "connection_error", "5xx", "409", "429"]


class RetryPolicySpec(_Strict):
    """How a client retries one logical operation.

    Data only: what an answer means and when to try again are pure functions of it in
    :mod:`harness.load.retry`.
    """

    max_attempts: int = Field(4, ge=1, le=100)
    timeout_s: float = Field(1.0, gt=0, le=120)
    backoff_base_s: float = Field(0.05, ge=0, le=60)
    backoff_max_s: float = Field(1.0, ge=0, le=600)
    jitter: Literal["full", "none"] = "full"
    retry_on: tuple[RetryOn, ...] = ("timeout", "connection_error", "5xx", "409")


class LoadSpec(_Strict):
    """How much load each variant × fault cell gets; every loop is bounded in count and time."""

    operations: int = Field(200, ge=1, le=1_000_000)
    double_submit: float = Field(
        0.0, ge=0, le=1, description="probability that an operation's first attempt is sent twice at once"
    )
    users: int = Field(8, ge=1, le=1000)
    spawn_rate: float = Field(50.0, gt=0, le=10_000)
    max_duration_s: float = Field(60.0, gt=0, le=3600)
    amount_min: int = Field(100, ge=1)
    amount_max: int = Field(10_000, ge=1)
    send_idempotency_key: bool = True
    retry: RetryPolicySpec = RetryPolicySpec()
    stop: Literal["decided", "fixed"] = Field(
        "decided",
        description="decided: a cell stops once every gate on it is decided (harness.stopping); "
        "fixed: every cell runs all its operations",
    )
    confidence: float = Field(
        0.95, gt=0.5, lt=1, allow_inf_nan=False, description="how sure a decided gate is (stop: decided)"
    )

    @model_validator(mode="after")
    def _amounts_ordered(self) -> LoadSpec:
        """The range ``{amount}`` draws from must not be empty."""
        if self.amount_min > self.amount_max:
            raise ValueError(f"amount_min ({self.amount_min}) must not exceed amount_max ({self.amount_max})")
        return self

    def for_cell(self, operations: int | None = None, double_submit: float | None = None) -> LoadSpec:
        """The load of one cell: a value the cell gives (``--operations``, a fault's ``double_submit``)
        replaces the scenario's, ``None`` keeps it; the result is validated as the file's was."""
        given = {"operations": operations, "double_submit": double_submit}
        changes = {name: value for name, value in given.items() if value is not None}
        return self if not changes else LoadSpec.model_validate({**self.model_dump(), **changes})


DEFAULT_CHARGE_BODY: dict[str, Any] = {
    "amount": "{amount}",
    "currency": "EUR",
    "customer": "{customer}",
    "reference": "{op_id}",
}


class SuccessSpec(_Strict):
    """How an answer shows that the operation took effect (the attempt is acknowledged).

    For APIs where 2xx alone does not say it: ``200 {"status": "error"}``, or a 303 after a POST.
    An answer the rule does not accept is a refusal the server chose: final, unless its status is
    one the retry policy retries (409, 429, 5xx).
    """

    status: tuple[Annotated[int, Field(ge=100, le=599)], ...] = Field(
        (), description="statuses that mean done (default: any 2xx)"
    )
    body_path: str | None = Field(
        None, min_length=1, description="dotted path into the JSON body that must hold a value (data.id)"
    )
    body_equals: str | int | float | bool | None = Field(
        None, description="with body_path: the value it must hold (default: any but null)"
    )

    @model_validator(mode="after")
    def _equals_needs_path(self) -> SuccessSpec:
        if self.body_equals is not None and self.body_path is None:
            raise ValueError("body_equals: needs body_path (where in the body to compare)")
        return self

    def accepts_status(self, status: int) -> bool:
        return status in self.status if self.status else 200 <= status < 300

    def accepts_body(self, body: object) -> bool:
        """Whether the decoded JSON ``body`` passes the check (always, without ``body_path``)."""
        if self.body_path is None:
            return True
        found = dig(body, self.body_path)
        if self.body_equals is None:
            return found is not MISSING and found is not None
        return found == self.body_equals and type(found) is type(self.body_equals)


RESOURCE_PLACEHOLDER = "resource"
"""``{resource}``: the id an operation's create step answered with."""


def _templates_valid(path: str, templates: dict[str, object]) -> None:
    """A request template's path is absolute and every placeholder in ``templates`` parses."""
    if not path.startswith("/"):
        raise ValueError(f"path must start with '/' (got {path!r})")
    for where, template in templates.items():
        validate_template(template, where)


def _resource_used(templates: dict[str, object]) -> str | None:
    """The first field (``body.address.line1``) of ``templates`` that uses ``{resource}``, or None."""
    for where, template in templates.items():
        found = placeholder_used(template, where, RESOURCE_PLACEHOLDER)
        if found is not None:
            return found
    return None


class ResourceCreateSpec(_Strict):
    """The request that makes an operation's resource, sent first as its own logical operation."""

    method: Literal["POST", "PUT"] = "POST"
    path: str
    body: Any = None
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    id_field: str = Field("id", min_length=1, description="dotted path to the id in the create's answer")

    @model_validator(mode="after")
    def _template_valid(self) -> ResourceCreateSpec:
        templates: dict[str, object] = {"path": self.path, "headers": self.headers, "body": self.body}
        _templates_valid(self.path, templates)
        used = _resource_used(templates)
        if used is not None:
            raise ValueError(f"{used}: {{resource}} is not known yet in the create step (it answers with it)")
        return self


class ResourceStateSpec(_Strict):
    """Where the resource is read after the load (GET, direct to the target), and what not to compare."""

    path: str
    ignore: tuple[str, ...] = Field((), description="top-level fields left out of the comparison")

    @model_validator(mode="after")
    def _names_the_resource(self) -> ResourceStateSpec:
        _templates_valid(self.path, {"path": self.path})
        if _resource_used({"path": self.path}) is None:
            raise ValueError(f"path: must name the resource with {{resource}} (got {self.path!r})")
        return self


class ResourceSpec(_Strict):
    """An operation on a resource it makes first: how to make it, and where to read it afterwards."""

    create: ResourceCreateSpec
    state: ResourceStateSpec


class OperationSpec(_Strict):
    """One kind of logical operation the load performs, as an HTTP request template.

    ``path``, header values and string values in ``body`` may hold placeholders (``{op_id}``,
    ``{key}``, ``{amount}``, ``{customer}``, ``{seq}``, ``{uuid}``, ``{int:LO:HI}``,
    ``{choice:a|b|c}``); a string that is exactly one numeric placeholder becomes a JSON number.

    With ``resource:`` the operation acts on a resource it makes first: the create step runs as its
    own logical operation (``<op_id>.create``), and ``{resource}`` is the id it answered with.
    """

    name: Identifier = "charge"
    weight: float = Field(1.0, gt=0, le=1_000_000)
    method: Literal["POST", "PUT", "PATCH", "DELETE", "GET", "HEAD"] = "POST"
    path: str = "/charges"
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    body: Any = Field(default_factory=lambda: dict(DEFAULT_CHARGE_BODY))
    key_header: HeaderName = "Idempotency-Key"
    resource_id_field: str = "id"
    success: SuccessSpec | None = Field(None, description="how an answer shows it took effect (default: 2xx)")
    resource: ResourceSpec | None = Field(
        None, description="make a resource first ({resource} is its id), read it after the load"
    )
    flow: str | None = Field(
        None, description="module:function run once per attempt instead of method/path/body (multi-step)"
    )
    python_path: tuple[str, ...] = Field(
        (), validate_default=True, description="folders for importing the flow (scenario-relative)"
    )

    @field_validator("python_path", mode="before")
    @classmethod
    def _python_path_as_list(cls, paths: Any) -> Any:
        return (paths,) if isinstance(paths, str) else paths

    @field_validator("python_path")
    @classmethod
    def _python_path_absolute(cls, paths: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        """Absolute folders (the load driver is another process); a flow defaults to the scenario's."""
        base = base_dir(info) or Path.cwd()
        if not paths and info.data.get("flow") is not None and base_dir(info) is not None:
            paths = (".",)
        return tuple(str((base / path).resolve()) for path in paths)

    @model_validator(mode="after")
    def _request_template_valid(self) -> OperationSpec:
        """Catch a mistyped placeholder when the file is loaded, not per request mid-run."""
        if self.flow is not None:
            return self._flow_valid()
        if self.python_path:
            raise ValueError("python_path: only with flow")
        templates: dict[str, object] = {"path": self.path, "headers": self.headers, "body": self.body}
        _templates_valid(self.path, templates)
        used = None if self.resource is not None else _resource_used(templates)
        if used is not None:
            raise ValueError(
                f"{used}: {{resource}} only in an operation with resource: (the id it makes first)"
            )
        return self

    def _flow_valid(self) -> OperationSpec:
        """A flow sends its own requests, and its module:function must import now, not mid-run."""
        if self.resource is not None:
            raise ValueError("resource: not with flow (the flow function sends its own requests)")
        for name in ("method", "path", "body", "headers"):  # by value: a config round trip sets them all
            default = type(self).model_fields[name].get_default(call_default_factory=True)
            if name in self.model_fields_set and getattr(self, name) != default:
                raise ValueError(f"{name}: not with flow (the flow function sends its own requests)")
        assert self.flow is not None
        if not CALLABLE_PATTERN.match(self.flow):
            raise ValueError(f"flow: expected 'module:function' (got {self.flow!r})")
        try:
            import_callable(self.flow, self.python_path)
        except CallableImportError as error:
            raise ValueError(f"flow: {error}") from None
        return self


def _named_once(operations: tuple[OperationSpec, ...]) -> tuple[OperationSpec, ...]:
    if not operations:
        raise ValueError("at least one operation is needed")
    names = [operation.name for operation in operations]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"operation names must not repeat: {', '.join(repeated)}")
    return operations


OperationKinds = Annotated[tuple[OperationSpec, ...], AfterValidator(_named_once)]
"""At least one operation kind, each name once (``target.operations``, a load cell's ``kinds``)."""
