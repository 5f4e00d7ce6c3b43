"""The ``target`` block: the service under test, its variants, how it runs and where its effects are read.

Every mistake a user can make here is refused when the file loads: a missing Dockerfile, a command
that cannot learn its port, a url target that is not on loopback, a probe without its query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from harness.paths import TARGETS_DIR
from harness.ports import is_loopback
from harness.scenario._base import (
    CALLABLE_PATTERN,
    EnvName,
    Identifier,
    _ReadsFiles,
    _Strict,
    invalid_at,
    names_with_settings,
    resolved,
)
from harness.scenario.load import OperationKinds, OperationSpec
from harness.scenario.saga import SagaSpec

ServiceName = Literal["postgres", "redis", "rabbitmq", "smtp"]
ProbeSource = Literal["target", "smtp", "sql", "callable"]


class EffectsSpec(_ReadsFiles):
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
        if self.source == "callable" and (self.callable is None or not CALLABLE_PATTERN.match(self.callable)):
            raise ValueError(f"callable: expected 'module:function' (got {self.callable!r})")
        return self


TargetKind = Literal["reference", "command", "docker", "url"]


class VariantSpec(_Strict):
    """What one variant changes: extra env (a feature flag), a command, a URL (your own service), and
    how much it must acknowledge for its cells to be conclusive."""

    env: dict[EnvName, str] = Field(default_factory=dict)
    command: tuple[str, ...] | None = None
    url: str | None = None
    min_acknowledged_rate: float = Field(
        0.5,
        ge=0,
        le=1,
        description="share of operations it must acknowledge; below it a cell is inconclusive (unknown)",
    )


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
        folder = resolved(build, info)
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

    name: Identifier | None = None
    command: tuple[str, ...] | None = None
    cwd: str | None = Field(None, description="working folder of the command, relative to the scenario")
    docker: DockerSpec | None = None
    url: str | None = None
    kill_command: tuple[str, ...] | None = None
    restart_command: tuple[str, ...] | None = None
    health_path: str = "/health"
    variants: tuple[Identifier, ...] = ("naive", "idempotent")
    variant_settings: dict[str, VariantSpec] = Field(default_factory=dict)
    start_timeout_s: float = Field(20.0, gt=0, le=600)
    operations: OperationKinds = (OperationSpec(),)
    effects: EffectsSpec = EffectsSpec()
    services: tuple[ServiceName, ...] = ()
    env: dict[EnvName, str] = Field(default_factory=dict, description="extra environment for the target")
    saga: SagaSpec | None = Field(
        None, description="the participants behind the target (an orchestrator) and a fault proxy per hop"
    )

    @model_validator(mode="before")
    @classmethod
    def _variants_as_mapping(cls, data: Any) -> Any:
        """``variants: {naive: {env: ...}, idempotent: {...}}`` is names plus their settings."""
        return names_with_settings(data, "variants", "variant_settings")

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
        folder = resolved(cwd, info)
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
        if self.saga is not None and self.kind == "url":
            raise ValueError("saga: not with url (the harness starts each participant and the hops' proxies)")
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
        self._participants_get_their_port()
        return self

    def _participants_get_their_port(self) -> None:
        """A participant with a command of its own runs it the target's way and must get its port."""
        for name in () if self.saga is None else self.saga.participants:
            assert self.saga is not None
            if self.saga.participant(name).command is None:
                continue
            field = ("saga", "participants", name, "command")
            if self.kind not in ("command", "docker"):
                raise invalid_at(field, "only with a command or docker target", name)
            words = [*self.saga.command_words(name), *self.env.values()]
            if not any("{port}" in word for word in words):
                raise invalid_at(field, "put {port} in it or its env", name)
