"""The ``target.saga`` block: the services behind a target, and which fault proxy sits on which hop.

A saga target is several services: the one the load talks to (the orchestrator, the scenario's target
itself, behind the client's proxy as every target is) and its participants, each started as the same
target with its role in ``role_env``. The orchestrator finds each participant at the URL the harness
puts in an environment variable (``url_env``), and that URL is a fault proxy of its own: a fault's
toxic with ``link: payments`` acts on the hop from the orchestrator to payments only.

``participants`` is a list of names, or a mapping of name to its own settings (``url_env``, ``env``,
its own ``command`` or ``url``, and for a saga of the user's own its role: ``step``, ``forward``,
``compensation``, ``level``). ``url_env`` may hold ``{NAME}`` (the participant's name in capitals) or
``{name}`` (as written).

Where the saga probe reads: by default the checkout shape's endpoints (``GET /sagas`` on the
orchestrator, ``GET /ledger`` and ``GET /state`` on each participant). A saga of the user's own
declares ``sagas`` and each participant's ``ledger`` and ``levels`` as a :class:`RowsSpec`: an HTTP
JSON path on that service, a SQL query (SQLite file or Postgres DSN), or a Python ``module:function``,
with ``fields`` mapping each record field to a dotted path (or a column) in a row.
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)

from harness.ports import is_loopback
from harness.saga_evidence import CHECKOUT_PARTICIPANTS, LevelKind, ParticipantRole
from harness.scenario._base import (
    CALLABLE_PATTERN,
    EnvName,
    Identifier,
    _ReadsFiles,
    _Strict,
    invalid_at,
    names_with_settings,
)

CLIENT_LINK = "client"
"""The link between the load and the target: a toxic's link when it names none."""

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROBED_ROLES: dict[str, ParticipantRole] = {role.name: role for role in CHECKOUT_PARTICIPANTS}
"""The participants whose role the harness knows (the checkout shape); any other declares its own."""

ROLE_FIELDS = ("step", "forward", "compensation", "level")

SAGA_FIELDS = ("id", "reference", "status", "steps_done", "compensations_done", "created_at")
"""What the probe reads of each saga: ``steps_done`` and ``compensations_done`` are lists of step
numbers (or text such as ``"1,2"``); ``status`` is ``pending``, ``done``, ``compensated`` or ``failed``."""
LEDGER_FIELDS = (
    "id", "saga_id", "step", "kind", "idempotency_key", "item", "amount", "reference", "created_at"
)
"""What the probe reads of each ledger row (``idempotency_key`` may be null or absent)."""
LEVEL_FIELDS = ("item", "level")
"""What the probe reads of each level row: an item and its current level."""

ReadSource = Literal["http", "sql", "callable"]


def url_env_name(template: str, participant: str) -> str:
    """The variable that carries ``participant``'s hop URL, from a ``url_env`` template."""
    return template.replace("{NAME}", participant.upper()).replace("{name}", participant)


class RowsSpec(_ReadsFiles):
    """Where the saga probe reads one list of records, and which field of a row is which.

    ``source``: ``http`` (``GET path`` on the service itself, never through a proxy; ``list_path`` finds
    the list inside a wrapping object), ``sql`` (``query`` against the SQLite file ``sqlite``, which may
    use ``{data_dir}``, the service's data folder, or the Postgres ``dsn``; columns by name) or
    ``callable`` (``module:function`` returning a list of dicts; it may take ``base_url``, ``data_dir``,
    ``participant``). ``fields``: record field to a dotted path or column in a row (default: the same name).
    """

    source: ReadSource = "http"
    path: str | None = None
    list_path: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    sqlite: str | None = None
    dsn: str | None = None
    query: str | None = None
    callable: str | None = None
    python_path: tuple[str, ...] = Field((".",), validate_default=True)

    @model_validator(mode="after")
    def _source_fields(self) -> RowsSpec:
        given = {name for name in ("path", "list_path", "sqlite", "dsn", "query", "callable")
                 if getattr(self, name) is not None}
        allowed = {"http": {"path", "list_path"}, "sql": {"sqlite", "dsn", "query"}, "callable": {"callable"}}
        for name in sorted(given - allowed[self.source]):
            raise invalid_at((name,), f"only with source: {_source_of(name)} (source is {self.source})", name)
        if self.source == "http" and (self.path is None or not self.path.startswith("/")):
            raise invalid_at(("path",), "source http needs a path starting with '/'", self.path)
        if self.source == "sql":
            if not self.query:
                raise invalid_at(("query",), "required when source is sql", self.query)
            if (self.sqlite is None) == (self.dsn is None):
                raise invalid_at(("sqlite",), "source sql needs exactly one of sqlite or dsn", self.sqlite)
        if self.source == "callable" and (self.callable is None or not CALLABLE_PATTERN.match(self.callable)):
            raise invalid_at(("callable",), "expected 'module:function'", self.callable)
        return self

    def check_fields(self, known: tuple[str, ...], at: tuple[str, ...]) -> None:
        """Refuse a ``fields`` key that is no field of this record (``at``: where this spec is)."""
        for name in self.fields:
            if name not in known:
                raise invalid_at((*at, "fields", name), f"no such field (fields: {', '.join(known)})", name)

    def field(self, name: str) -> str:
        """Where record field ``name`` is in a row."""
        return self.fields.get(name, name)


def _source_of(name: str) -> str:
    return {"path": "http", "list_path": "http", "callable": "callable"}.get(name, "sql")


class LevelsSpec(RowsSpec):
    """A participant's levels (rows of ``item`` and ``level``), the level an item starts at, its floor."""

    initial_level: int = 0
    floor: int | None = None


class ParticipantSpec(_Strict):
    """One participant's own settings: where its URL goes (default: the saga's ``url_env``), extra env,
    its own ``command`` (else the target's, with its role) or the ``url`` it already listens at, its
    role in the saga (``step``, ``forward``, ``compensation``, ``level``; known for the checkout shape's
    names), what each saga asks of it (``item_field``, ``amount_field``: dotted paths in a saga's row,
    or ``amount`` a fixed number) and where its ``ledger`` and ``levels`` are read."""

    url_env: str | None = None
    env: dict[EnvName, str] = Field(default_factory=dict)
    command: tuple[str, ...] | None = None
    url: str | None = None
    step: int | None = Field(None, ge=1)
    forward: str | None = None
    compensation: str | None = None
    level: LevelKind | None = None
    item_field: str | None = None
    amount_field: str | None = None
    amount: int | None = None
    ledger: RowsSpec | None = None
    levels: LevelsSpec | None = None

    @model_validator(mode="after")
    def _runs_one_way(self) -> ParticipantSpec:
        if self.command is not None and not self.command:
            raise invalid_at(("command",), "a command needs at least the program to run", self.command)
        if self.command is not None and self.url is not None:
            raise invalid_at(("url",), "give command or url, not both", self.url)
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme != "http" or parts.port is None or not is_loopback(parts.hostname or ""):
                raise invalid_at(("url",), "expected http://<loopback host>:<port>", self.url)
        if self.amount is not None and self.amount_field is not None:
            raise invalid_at(("amount",), "give amount or amount_field, not both", self.amount)
        if self.ledger is not None:
            self.ledger.check_fields(LEDGER_FIELDS, ("ledger",))
        if self.levels is not None:
            self.levels.check_fields(LEVEL_FIELDS, ("levels",))
        return self

    def role(self, name: str) -> ParticipantRole:
        """Its role: the checkout shape's for a name it knows, with what this spec declares over it."""
        known = PROBED_ROLES.get(name)
        values = {field: getattr(self, field) for field in ROLE_FIELDS}
        for field, value in values.items():
            if value is None and known is None:
                raise invalid_at(
                    ("participants", name, field),
                    "required: not a checkout participant",
                    None,
                )
            if value is None:
                values[field] = getattr(known, field)
        return ParticipantRole(name, **values)


class SagaSpec(_Strict):
    """The participants behind a saga target, the hops to them, and how long its sagas may take to settle.

    ``role_env``: each participant is started as the target with this variable set to its name (unset:
    no role variable; the participant's ``env`` tells them apart). ``settle_s``: how long the saga probe
    waits, after the load, for every saga to end; ``quiet_s``: how long no ledger may move before the
    sagas count as settled (longer than any latency a fault puts on a hop). ``effects_from``: a
    participant whose ledger the target's effects probe reads instead of the orchestrator (whose own
    record of the checkouts a broken orchestrator may lose in a crash).
    """

    participants: tuple[Identifier, ...]
    participant_settings: dict[str, ParticipantSpec] = Field(default_factory=dict)
    role_env: EnvName | None = None
    url_env: str = "{NAME}_URL"
    settle_s: float = Field(10.0, gt=0, le=600)
    quiet_s: float = Field(1.0, gt=0, le=60)
    effects_from: Identifier | None = None
    sagas: RowsSpec | None = None
    """Where the orchestrator's sagas are read (a saga of the user's own); None: the checkout shape."""

    @model_validator(mode="wrap")
    @classmethod
    def _errors_name_participants(cls, data: Any, handler: ModelWrapValidatorHandler[SagaSpec]) -> SagaSpec:
        """A participant's own setting at fault is named as written: ``participants.<name>.<field>``."""
        try:
            return handler(data)
        except ValidationError as error:
            first = error.errors()[0]
            loc = tuple("participants" if part == "participant_settings" else part for part in first["loc"])
            raise invalid_at(loc, str(first["msg"]), first.get("input")) from None

    @model_validator(mode="before")
    @classmethod
    def _participants_as_mapping(cls, data: Any) -> Any:
        """``participants: {payments: {url_env: PAY_URL}}`` is names plus their settings."""
        return names_with_settings(data, "participants", "participant_settings")

    @field_validator("participants")
    @classmethod
    def _participants_named_once(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        if not names:
            raise ValueError("at least one participant is needed")
        for index, name in enumerate(names):
            if name in names[:index]:
                raise invalid_at((index,), "a participant is named twice", name)
            if name == CLIENT_LINK:
                raise invalid_at((index,), f"{CLIENT_LINK!r} names the load's link, not a participant", name)
            if "--" in name:
                raise invalid_at((index,), "'--' separates the parts of a proxy's name", name)
        return names

    @model_validator(mode="after")
    def _urls_land_in_env(self) -> SagaSpec:
        """Each hop's URL goes to a variable of its own, with a name an environment can hold."""
        seen: dict[str, str] = {}
        for name in self.participants:
            own = self.participant(name).url_env
            field: tuple[str, ...] = ("participants", name, "url_env") if own is not None else ("url_env",)
            variable = url_env_name(own or self.url_env, name)
            if not ENV_NAME.fullmatch(variable):
                problem = f"{variable!r} is not an environment variable name"
                raise invalid_at(field, problem, own or self.url_env)
            if variable in seen:
                raise invalid_at(field, f"{variable!r} carries the URL of {seen[variable]} already", variable)
            seen[variable] = name
        for name in self.participant_settings:
            if name not in self.participants:
                raise invalid_at(("participant_settings", name), "no such participant", name)
        if self.effects_from is not None and self.effects_from not in self.participants:
            raise invalid_at(
                ("effects_from",),
                f"no such participant (participants: {', '.join(self.participants)})",
                self.effects_from,
            )
        self._check_roles_and_reads()
        return self

    def _check_roles_and_reads(self) -> None:
        """Every participant has a role, each step is served once, and the reads are all declared
        (a saga of the user's own) or none is (the checkout shape's endpoints)."""
        steps: dict[int, str] = {}
        for role in self.roles:
            if role.step in steps:
                problem = f"step {role.step} is served by {steps[role.step]} already"
                raise invalid_at(("participants", role.name, "step"), problem, role.step)
            steps[role.step] = role.name
        if self.sagas is not None:
            self.sagas.check_fields(SAGA_FIELDS, ("sagas",))
        if self.declares_reads:
            missing: list[tuple[str, ...]] = [("sagas",)] if self.sagas is None else []
            for name in self.participants:
                spec = self.participant(name)
                missing += [("participants", name, part) for part in ("ledger", "levels")
                            if getattr(spec, part) is None]
            if missing:
                raise invalid_at(
                    missing[0], "a saga that declares one read declares sagas, ledger and levels", None
                )
        elif any(name not in PROBED_ROLES for name in self.participants):
            unknown = next(name for name in self.participants if name not in PROBED_ROLES)
            raise invalid_at(
                ("sagas",),
                f"participant {unknown!r} is not of the checkout shape: declare where the sagas, "
                "each ledger and levels are read",
                None,
            )

    @property
    def declares_reads(self) -> bool:
        """Whether the saga says where it is read (else the checkout shape's endpoints are)."""
        return self.sagas is not None or any(
            self.participant(name).ledger is not None or self.participant(name).levels is not None
            for name in self.participants
        )

    def participant(self, name: str) -> ParticipantSpec:
        return self.participant_settings.get(name, ParticipantSpec())

    def url_env_of(self, name: str) -> str:
        """The variable the orchestrator reads ``name``'s hop URL from."""
        return url_env_name(self.participant(name).url_env or self.url_env, name)

    @property
    def links(self) -> tuple[str, ...]:
        """Every link a fault may name: the client's, then one per participant."""
        return (CLIENT_LINK, *self.participants)

    @property
    def roles(self) -> tuple[ParticipantRole, ...]:
        """What the saga probe reads of each participant, in the saga's step order."""
        return tuple(sorted((self.participant(name).role(name) for name in self.participants),
                            key=lambda role: role.step))

    def command_words(self, name: str) -> tuple[str, ...]:
        """The words of a participant's own command and env: where ``{port}`` must appear."""
        spec = self.participant(name)
        return (*(spec.command or ()), *spec.env.values())
