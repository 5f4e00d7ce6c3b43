"""Scenario files: the YAML a user writes, validated into typed models.

Every mistake in a file becomes a :class:`ScenarioError` naming the file, the dotted field path and
the value at fault, so a user never sees a pydantic traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from harness.errors import HarnessError, ScenarioError, describe_invalid, shown_value
from harness.imports import CallableImportError, import_callable
from harness.jsonpath import MISSING, dig
from harness.ports import is_loopback
from harness.template import validate_template

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGETS_DIR = REPO_ROOT / "targets"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


RetryOn = Literal["timeout", "connection_error", "5xx", "409", "429"]


class RetryPolicySpec(_Strict):
    """How a client retries one logical operation."""

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
    spawn_rate: float = Field(50.0, gt=0)
    max_duration_s: float = Field(60.0, gt=0, le=3600)
    amount_min: int = Field(100, ge=1)
    amount_max: int = Field(10_000, ge=1)
    send_idempotency_key: bool = True
    retry: RetryPolicySpec = RetryPolicySpec()

    @model_validator(mode="after")
    def _amounts_ordered(self) -> LoadSpec:
        check_amounts_ordered(self.amount_min, self.amount_max)
        return self


def check_amounts_ordered(amount_min: int, amount_max: int) -> None:
    """The range ``{amount}`` draws from must not be empty (for a scenario and a cell alike)."""
    if amount_min > amount_max:
        raise ValueError(f"amount_min ({amount_min}) must not exceed amount_max ({amount_max})")


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


class OperationSpec(_Strict):
    """One kind of logical operation the load performs, as an HTTP request template.

    ``path``, header values and string values in ``body`` may hold placeholders (``{op_id}``,
    ``{key}``, ``{amount}``, ``{customer}``, ``{seq}``, ``{uuid}``, ``{int:LO:HI}``,
    ``{choice:a|b|c}``); a string that is exactly one numeric placeholder becomes a JSON number.
    """

    name: str = "charge"
    weight: float = Field(1.0, gt=0)
    method: Literal["POST", "PUT", "PATCH", "DELETE", "GET"] = "POST"
    path: str = "/charges"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(default_factory=lambda: dict(DEFAULT_CHARGE_BODY))
    key_header: str = "Idempotency-Key"
    resource_id_field: str = "id"
    success: SuccessSpec | None = Field(None, description="how an answer shows it took effect (default: 2xx)")
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
        base = _base_dir(info) or Path.cwd()
        if not paths and info.data.get("flow") is not None and _base_dir(info) is not None:
            paths = (".",)
        return tuple(str((base / path).resolve()) for path in paths)

    @model_validator(mode="after")
    def _request_template_valid(self) -> OperationSpec:
        """Catch a mistyped placeholder when the file is loaded, not per request mid-run."""
        if self.flow is not None:
            return self._flow_valid()
        if self.python_path:
            raise ValueError("python_path: only with flow")
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/' (got {self.path!r})")
        validate_template(self.path, "path")
        for name, value in self.headers.items():
            validate_template(value, f"headers.{name}")
        validate_template(self.body, "body")
        return self

    def _flow_valid(self) -> OperationSpec:
        """A flow sends its own requests, and its module:function must import now, not mid-run."""
        for name in ("method", "path", "body", "headers"):  # by value: a config round trip sets them all
            default = type(self).model_fields[name].get_default(call_default_factory=True)
            if name in self.model_fields_set and getattr(self, name) != default:
                raise ValueError(f"{name}: not with flow (the flow function sends its own requests)")
        assert self.flow is not None
        if not _CALLABLE.match(self.flow):
            raise ValueError(f"flow: expected 'module:function' (got {self.flow!r})")
        try:
            import_callable(self.flow, self.python_path)
        except CallableImportError as error:
            raise ValueError(f"flow: {error}") from None
        return self


ServiceName = Literal["postgres", "redis", "rabbitmq", "smtp"]


ProbeSource = Literal["target", "smtp", "sql", "callable"]
_CALLABLE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")


def _base_dir(info: ValidationInfo) -> Path | None:
    """The scenario file's folder, which relative paths in it are relative to (None: the cwd)."""
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base_dir")
    return Path(base) if base is not None else None


def _resolved(path: str, info: ValidationInfo) -> str:
    """``path`` relative to the scenario file (placeholders such as ``{data_dir}`` kept as written)."""
    base = _base_dir(info)
    if path.startswith("{") or Path(path).is_absolute() or base is None:
        return path
    return str((base / path).resolve())


class EffectsSpec(_Strict):
    """Where the effects probe reads what the target really did, once the load has drained.

    ``source``: ``target`` (an HTTP JSON ledger on the target: ``path``, ``list_path``,
    ``op_ref_field``, ``id_field``, the last three dotted paths such as ``data.items`` or
    ``metadata.op_id``), ``smtp`` (the harness's SMTP sink), ``sql`` (``query`` against the SQLite
    file ``sqlite``, which may use ``{data_dir}``, or the Postgres ``dsn``: first column the op
    reference, optional second the effect's id) or ``callable`` (``module:function`` returning op
    references or dicts, imported with ``python_path`` on ``sys.path``).
    """

    source: ProbeSource = "target"
    path: str = "/effects"
    list_path: str | None = Field(None, description="dotted path to the list in the JSON answer")
    op_ref_field: str = "reference"
    id_field: str = "id"
    sqlite: str | None = Field(None, description="SQLite file; relative to the scenario; may use {data_dir}")
    dsn: str | None = Field(None, description="Postgres connection string")
    query: str | None = None
    callable: str | None = Field(None, description="module:function returning op refs or dicts")
    python_path: tuple[str, ...] = Field(
        (".",), validate_default=True, description="folders for importing the callable (scenario-relative)"
    )
    settle_s: float = Field(0.0, ge=0, le=600, description="wait this long for async work before reading")
    drain_path: str | None = Field(
        None, description="GET until it answers {\"pending\": 0} (queue-backed targets), within settle_s"
    )

    @field_validator("sqlite")
    @classmethod
    def _sqlite_relative_to_scenario(cls, sqlite: str | None, info: ValidationInfo) -> str | None:
        return None if sqlite is None else _resolved(sqlite, info)

    @field_validator("python_path")
    @classmethod
    def _python_path_relative_to_scenario(
        cls, paths: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        return tuple(_resolved(path, info) for path in paths)

    @model_validator(mode="after")
    def _source_fields(self) -> EffectsSpec:
        sql_fields = [name for name in ("sqlite", "dsn", "query") if getattr(self, name) is not None]
        if self.source != "sql" and sql_fields:
            raise ValueError(f"{sql_fields[0]}: only with source: sql (source is {self.source})")
        if self.source != "callable" and self.callable is not None:
            raise ValueError(f"callable: only with source: callable (source is {self.source})")
        if self.source == "sql":
            if not self.query:
                raise ValueError("query: required when source is sql")
            if (self.sqlite is None) == (self.dsn is None):
                raise ValueError("source sql needs exactly one of sqlite (a file) or dsn (Postgres)")
        if self.source == "callable" and (self.callable is None or not _CALLABLE.match(self.callable)):
            raise ValueError(f"callable: expected 'module:function' (got {self.callable!r})")
        return self


TargetKind = Literal["reference", "command", "docker", "url"]


class VariantSpec(_Strict):
    """What one variant of your own service changes: extra env (a feature flag), a command, a URL."""

    env: dict[str, str] = Field(default_factory=dict)
    command: tuple[str, ...] | None = None
    url: str | None = None


class DockerSpec(_Strict):
    """A target as a container: an image, or a folder with a Dockerfile (relative to the scenario).

    Containers use the host's network: with ``port`` the service listens there (it must be free);
    without it the harness picks a free port and hands it over as ``{port}`` in env or command.
    """

    image: str | None = None
    build: str | None = None
    port: int | None = Field(None, ge=1, le=65535)

    @field_validator("build")
    @classmethod
    def _build_folder(cls, build: str | None, info: ValidationInfo) -> str | None:
        if build is None:
            return None
        folder = _resolved(build, info)
        if not (Path(folder) / "Dockerfile").is_file():
            raise ValueError(f"no Dockerfile in {folder}")
        return folder

    @model_validator(mode="after")
    def _image_or_build(self) -> DockerSpec:
        if (self.image is None) == (self.build is None):
            raise ValueError("give exactly one of image or build")
        return self


def is_loopback_url(url: str) -> bool:
    """Whether ``url``'s host is a loopback name or address."""
    return is_loopback(urlsplit(url).hostname or "")


class TargetSpec(_Strict):
    """The service under test and the variants to compare.

    Exactly one of: ``name`` (a reference target from ``targets/<name>``), ``command`` (your service
    as a process; ``{port}``, ``{data_dir}``, ``{python}``, ``{variant}`` are filled in), ``docker``
    (your service as a container) or ``url`` (already listening on loopback). ``variants`` is a list
    of names or a mapping of name to overrides (``env``, ``command``, ``url``).
    """

    name: str | None = None
    command: tuple[str, ...] | None = None
    cwd: str | None = Field(None, description="working folder of the command, relative to the scenario")
    docker: DockerSpec | None = None
    url: str | None = None
    kill_command: tuple[str, ...] | None = None
    restart_command: tuple[str, ...] | None = None
    health_path: str = "/health"
    variants: tuple[str, ...] = ("naive", "idempotent")
    variant_settings: dict[str, VariantSpec] = Field(default_factory=dict)
    start_timeout_s: float = Field(20.0, gt=0, le=600)
    operations: tuple[OperationSpec, ...] = (OperationSpec(),)
    effects: EffectsSpec = EffectsSpec()
    services: tuple[ServiceName, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for the target")

    @model_validator(mode="before")
    @classmethod
    def _variants_as_mapping(cls, data: Any) -> Any:
        """``variants: {naive: {env: ...}, idempotent: {...}}`` is names plus their settings."""
        if isinstance(data, dict) and isinstance(data.get("variants"), dict):
            mapping = data["variants"]
            data = {
                **data,
                "variants": tuple(mapping),
                "variant_settings": {name: spec or {} for name, spec in mapping.items()},
            }
        return data

    @property
    def kind(self) -> TargetKind:
        if self.docker is not None:  # a command beside it is the container's command
            return "docker"
        if self.command is not None:
            return "command"
        if self.url is not None:
            return "url"
        return "reference"

    def variant(self, name: str) -> VariantSpec:
        """A variant's overrides (empty when it has none)."""
        return self.variant_settings.get(name, VariantSpec())

    @field_validator("operations")
    @classmethod
    def _operation_names_unique(cls, operations: tuple[OperationSpec, ...]) -> tuple[OperationSpec, ...]:
        if not operations:
            raise ValueError("at least one operation is needed")
        names = [operation.name for operation in operations]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"operation names must not repeat: {', '.join(repeated)}")
        return operations

    @field_validator("name")
    @classmethod
    def _target_exists(cls, name: str | None) -> str | None:
        if name is not None and not (TARGETS_DIR / name / "app.py").is_file():
            known = sorted(p.name for p in TARGETS_DIR.iterdir() if (p / "app.py").is_file())
            raise ValueError(f"no target {name!r} under targets/ (known: {', '.join(known)})")
        return name

    @field_validator("cwd")
    @classmethod
    def _cwd_exists(cls, cwd: str | None, info: ValidationInfo) -> str | None:
        if cwd is None:
            return None
        folder = _resolved(cwd, info)
        if not Path(folder).is_dir():
            raise ValueError(f"no such folder {folder}")
        return folder

    @field_validator("command", "kill_command", "restart_command")
    @classmethod
    def _command_not_empty(cls, command: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if command is not None and not command:
            raise ValueError("a command needs at least the program to run")
        return command

    @field_validator("health_path")
    @classmethod
    def _health_path_absolute(cls, path: str) -> str:
        if not path.startswith("/"):
            raise ValueError(f"must start with '/' (got {path!r})")
        return path

    @field_validator("variants")
    @classmethod
    def _variants_not_empty(cls, variants: tuple[str, ...]) -> tuple[str, ...]:
        if not variants:
            raise ValueError("at least one variant is needed")
        if len(set(variants)) != len(variants):
            raise ValueError("variants must not repeat")
        return variants

    @model_validator(mode="after")
    def _one_kind(self) -> TargetSpec:
        given = [f for f in ("name", "command", "docker", "url") if getattr(self, f) is not None]
        if "docker" in given and "command" in given:
            given.remove("command")
        if len(given) != 1:
            shown = ", ".join(given) if given else "none"
            raise ValueError(
                "give exactly one of name (a reference target), command, docker or url "
                f"(given: {shown})"
            )
        if self.cwd is not None and self.kind != "command":
            raise ValueError("cwd: only with command")
        if self.kind != "url" and (self.kill_command or self.restart_command):
            raise ValueError("kill_command and restart_command: only with url (others the harness starts)")
        for name, spec in self.variant_settings.items():
            if name not in self.variants:
                raise ValueError(f"variant_settings.{name}: no such variant")
            if spec.command is not None and self.kind not in ("command", "docker"):
                raise ValueError(f"variants.{name}.command: only with a command or docker target")
            if spec.url is not None and self.kind != "url":
                raise ValueError(f"variants.{name}.url: only with a url target")
            if spec.command is not None and not spec.command:
                raise ValueError(f"variants.{name}.command: needs at least the program to run")
        needs_port = self.kind == "command" or (self.docker is not None and self.docker.port is None)
        if needs_port:
            for variant in self.variants:
                spec = self.variant(variant)
                words = [*(spec.command or self.command or ()), *self.env.values(), *spec.env.values()]
                if not any("{port}" in word for word in words):
                    raise ValueError(
                        f"the {self.kind} target must get its port: put {{port}} in command or env "
                        f"(variant {variant})"
                    )
        return self


class ToxicSpec(_Strict):
    """One toxic, in Toxiproxy's own terms (type, stream, toxicity, attributes)."""

    type: str
    name: str | None = None
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(1.0, ge=0, le=1)
    attributes: dict[str, Any] = Field(default_factory=dict)


class CrashSpec(_Strict):
    """Kill the target at seeded random times during the load, then restart it on the same data."""

    count: int = Field(2, ge=1, le=1000)
    min_interval_s: float = Field(1.0, gt=0)
    first_after_s: float = Field(0.5, ge=0)


class FaultSpec(_Strict):
    """One fault condition: toxics on the proxy, crash schedule, and target failpoints."""

    description: str = ""
    toxics: tuple[ToxicSpec, ...] = ()
    crashes: CrashSpec | None = None
    failpoints: dict[str, float] = Field(default_factory=dict)
    double_submit: float | None = Field(
        None, ge=0, le=1, description="overrides load.double_submit while this fault runs"
    )
    store_latency_ms: int = Field(
        0, ge=0, le=60_000, description="latency between the target and its stores, to widen race windows"
    )

    @field_validator("failpoints")
    @classmethod
    def _probabilities(cls, failpoints: dict[str, float]) -> dict[str, float]:
        for name, probability in failpoints.items():
            if not 0 <= probability <= 1:
                raise ValueError(f"failpoint {name!r} probability must be within 0..1")
        return failpoints


class GateSpec(_Strict):
    """Thresholds for one variant, checked on each of its fault cells (or only those in ``faults``).

    A scenario writes the thresholds beside ``faults`` (``max_duplicate_rate: 0``); each name must be a
    gate some checker module declares (:mod:`harness.checkers`), and its value fits that checker's
    metric: a rate within 0..1, a count a whole number >= 0. They are kept in ``thresholds``.
    """

    faults: tuple[str, ...] = ()
    thresholds: dict[str, float] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _thresholds_beside_faults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "thresholds" in data:
            return data
        from harness.checkers.registry import gate_rules

        order = [rule.name for rule in gate_rules()]
        given = {name: _gate_threshold(name, value) for name, value in data.items() if name != "faults"}
        thresholds = {name: given[name] for name in order if name in given}  # the registry's order
        return {"faults": data.get("faults", ()), "thresholds": thresholds}


_RATE_THRESHOLD: TypeAdapter[float] = TypeAdapter(Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)])
_COUNT_THRESHOLD: TypeAdapter[int] = TypeAdapter(Annotated[int, Field(ge=0)])


def _gate_threshold(name: str, value: Any) -> float:
    """``value`` as the threshold of the gate ``name``, or a ValueError naming the gate."""
    from harness.checkers.registry import gate_rule, gate_rules, metric

    rule = gate_rule(name)
    if rule is None:
        known = ", ".join(["faults", *(rule.name for rule in gate_rules())])
        raise ValueError(f"{name}: no such gate (known: {known})")
    declared = metric(rule.metric)
    adapter = _RATE_THRESHOLD if declared is not None and declared.is_rate else _COUNT_THRESHOLD
    try:
        return float(adapter.validate_python(value))
    except ValidationError as error:
        problem = describe_invalid(error.errors()[0])[1]
        raise ValueError(f"{name}: {problem}{shown_value(value)}") from None


class ProxySpec(_Strict):
    """Where the fault proxy is: embedded (default) or a real Toxiproxy server by URL."""

    url: str | None = None


class Scenario(_Strict):
    """A whole run: target variants × faults, the load, and the gates."""

    name: str
    description: str = ""
    seed: int = 1
    runtime: Literal["process", "docker", "auto"] = "process"
    target: TargetSpec
    load: LoadSpec = LoadSpec()
    faults: dict[str, FaultSpec]
    gates: dict[str, GateSpec | tuple[GateSpec, ...]] = Field(default_factory=dict)
    proxy: ProxySpec = ProxySpec()
    allow_remote: bool = Field(False, description="allow a url target that is not on loopback")

    @model_validator(mode="after")
    def _gates_name_variants(self) -> Scenario:
        if not self.faults:
            raise ValueError("faults: at least one fault is needed (use {none: {}} for a baseline)")
        self._url_target_fits()
        for variant, specs in self.gates.items():
            if variant not in self.target.variants:
                raise ValueError(
                    f"gates.{variant}: no such variant (variants: {', '.join(self.target.variants)})"
                )
            for spec in gate_specs(specs):
                unknown = [fault for fault in spec.faults if fault not in self.faults]
                if unknown:
                    raise ValueError(
                        f"gates.{variant}.faults: no such fault {unknown[0]!r} "
                        f"(faults: {', '.join(self.faults)})"
                    )
        return self

    def chosen_faults(self, names: Sequence[str] = ()) -> list[str]:
        """The faults a run of ``names`` (``--fault``; none means all) makes, in scenario order."""
        unknown = [name for name in names if name not in self.faults]
        if unknown:
            raise HarnessError(
                f"--fault {unknown[0]}: no such fault in scenario {self.name!r} "
                f"(faults: {', '.join(self.faults)})"
            )
        return [name for name in self.faults if not names or name in names]

    def cells(self, fault_names: Sequence[str] = ()) -> list[tuple[str, str]]:
        """(variant, fault) of every cell a run of ``fault_names`` makes, in the order it makes them."""
        faults = self.chosen_faults(fault_names)
        return [(variant, fault) for fault in faults for variant in self.target.variants]

    def _url_target_fits(self) -> None:
        """A service already listening: on loopback (unless allowed), and crashable only by command."""
        target = self.target
        if target.kind != "url":
            return
        urls = [target.url, *(target.variant(v).url for v in target.variants)]
        for url in urls:
            if url is None:
                continue
            parts = urlsplit(url)
            if parts.scheme != "http" or not parts.hostname or not parts.port or parts.path not in ("", "/"):
                raise ValueError(f"target.url: expected http://host:port, nothing more (got {url!r})")
            if not self.allow_remote and not is_loopback_url(url):
                raise ValueError(
                    f"target.url: {url} is not on loopback; the harness sends faulted traffic only to "
                    "127.0.0.1 unless allow_remote: true"
                )
        for name, fault in self.faults.items():
            if fault.failpoints:
                raise ValueError(
                    f"faults.{name}.failpoints: a url target is not started by the harness, so it "
                    "cannot be given failpoints"
                )
            if fault.crashes is not None and not (target.kill_command and target.restart_command):
                raise ValueError(
                    f"faults.{name}.crashes: a url target needs target.kill_command and "
                    "target.restart_command to be crashed and brought back"
                )


def gate_specs(specs: GateSpec | tuple[GateSpec, ...]) -> tuple[GateSpec, ...]:
    """A variant's gates as a tuple, whether the file gave one mapping or a list of them."""
    return specs if isinstance(specs, tuple) else (specs,)


class Catalogue(_Strict):
    """A file that names other scenario files, run in order (``scenarios/all.yaml``)."""

    name: str
    description: str = ""
    scenarios: tuple[str, ...] = Field(min_length=1)


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; any problem is a ScenarioError naming file and field."""
    path = Path(path)
    return _validated(Scenario, _read_mapping(path), str(path), {"base_dir": path.parent.resolve()})


def is_catalogue(path: Path | str) -> bool:
    """Whether a file is a catalogue of scenarios rather than one scenario."""
    return "scenarios" in _read_mapping(Path(path))


def load_catalogue(path: Path | str) -> tuple[Catalogue, tuple[Path, ...]]:
    """A catalogue and its scenario files (relative to it), each of them validated up front."""
    path = Path(path)
    catalogue = _validated(Catalogue, _read_mapping(path), str(path))
    files = tuple(path.parent / name for name in catalogue.scenarios)
    for index, file in enumerate(files):
        if not file.is_file():
            raise ScenarioError(str(path), f"scenarios.{index}", "no such scenario file", str(file))
        load_scenario(file)
    return catalogue, files


def _read_mapping(path: Path) -> dict[str, Any]:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(shown, "(file)", f"cannot read: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ScenarioError(shown, where, f"not valid YAML: {getattr(error, 'problem', error)}") from None
    if not isinstance(data, dict):
        raise ScenarioError(shown, "(top level)", "expected a mapping of fields", type(data).__name__)
    return data


_Model = TypeVar("_Model", bound=BaseModel)


def _validated(
    model: type[_Model], data: dict[str, Any], shown: str, context: dict[str, Any] | None = None
) -> _Model:
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        raise ScenarioError(shown, *describe_invalid(error.errors()[0])) from None
