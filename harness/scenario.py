"""Scenario files: the YAML a user writes, validated into typed models.

Every mistake in a file becomes a :class:`ScenarioError` naming the file, the dotted field path and
the value at fault, so a user never sees a pydantic traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import ScenarioError
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


DEFAULT_CHARGE_BODY: dict[str, Any] = {
    "amount": "{amount}",
    "currency": "EUR",
    "customer": "{customer}",
    "reference": "{op_id}",
}


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

    @model_validator(mode="after")
    def _request_template_valid(self) -> OperationSpec:
        """Catch a mistyped placeholder when the file is loaded, not per request mid-run."""
        if not self.path.startswith("/"):
            raise ValueError(f"path must start with '/' (got {self.path!r})")
        validate_template(self.path, "path")
        for name, value in self.headers.items():
            validate_template(value, f"headers.{name}")
        validate_template(self.body, "body")
        return self


ServiceName = Literal["postgres", "redis", "rabbitmq", "smtp"]


class EffectsSpec(_Strict):
    """Where the effects probe reads what the target really did."""

    source: Literal["target", "smtp"] = "target"
    path: str = "/effects"
    op_ref_field: str = "reference"
    id_field: str = "id"
    settle_s: float = Field(0.0, ge=0, le=600, description="wait this long for async work before reading")
    drain_path: str | None = Field(
        None, description="GET until it answers {\"pending\": 0} (queue-backed targets), within settle_s"
    )


class TargetSpec(_Strict):
    """A reference target from ``targets/<name>`` and the variants to compare."""

    name: str
    variants: tuple[str, ...] = ("naive", "idempotent")
    start_timeout_s: float = Field(20.0, gt=0, le=600)
    operations: tuple[OperationSpec, ...] = (OperationSpec(),)
    effects: EffectsSpec = EffectsSpec()
    services: tuple[ServiceName, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, description="extra environment for the target")

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
    def _target_exists(cls, name: str) -> str:
        if not (TARGETS_DIR / name / "app.py").is_file():
            known = sorted(p.name for p in TARGETS_DIR.iterdir() if (p / "app.py").is_file())
            raise ValueError(f"no target {name!r} under targets/ (known: {', '.join(known)})")
        return name

    @field_validator("variants")
    @classmethod
    def _variants_not_empty(cls, variants: tuple[str, ...]) -> tuple[str, ...]:
        if not variants:
            raise ValueError("at least one variant is needed")
        if len(set(variants)) != len(variants):
            raise ValueError("variants must not repeat")
        return variants


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
    """Thresholds for one variant, checked on each of its fault cells (or only those in ``faults``)."""

    faults: tuple[str, ...] = ()
    max_duplicate_rate: float | None = Field(None, ge=0, le=1)
    min_duplicate_rate: float | None = Field(None, ge=0, le=1)
    max_lost_acknowledged: int | None = Field(None, ge=0)
    max_replay_mismatches: int | None = Field(None, ge=0)


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

    @model_validator(mode="after")
    def _gates_name_variants(self) -> Scenario:
        if not self.faults:
            raise ValueError("faults: at least one fault is needed (use {none: {}} for a baseline)")
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


def gate_specs(specs: GateSpec | tuple[GateSpec, ...]) -> tuple[GateSpec, ...]:
    """A variant's gates as a tuple, whether the file gave one mapping or a list of them."""
    return specs if isinstance(specs, tuple) else (specs,)


class Catalogue(_Strict):
    """A file that names other scenario files, run in order (``scenarios/all.yaml``)."""

    name: str
    description: str = ""
    scenarios: tuple[str, ...] = Field(min_length=1)


def _field_path(location: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in location) or "(top level)"


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file; any problem is a ScenarioError naming file and field."""
    path = Path(path)
    return _validated(Scenario, _read_mapping(path), str(path))


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


def _validated(model: type[_Model], data: dict[str, Any], shown: str) -> _Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        problem = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            problem = "unknown field"
        value = first.get("input") if first["type"] != "missing" else None
        if isinstance(value, dict):
            value = None
        raise ScenarioError(shown, _field_path(location), problem, value) from None
