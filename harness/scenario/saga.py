"""The ``target.saga`` block: the services behind a target, and which fault proxy sits on which hop.

A saga target is several services: the one the load talks to (the orchestrator, the scenario's target
itself, behind the client's proxy as every target is) and its participants, each started as the same
target with its role in ``role_env``. The orchestrator finds each participant at the URL the harness
puts in an environment variable (``url_env``), and that URL is a fault proxy of its own: a fault's
toxic with ``link: payments`` acts on the hop from the orchestrator to payments only.

``participants`` is a list of names, or a mapping of name to its own settings (``url_env``, ``env``).
``url_env`` may hold ``{NAME}`` (the participant's name in capitals) or ``{name}`` (as written).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator, model_validator

from harness.saga_evidence import CHECKOUT_PARTICIPANTS, ParticipantRole
from harness.scenario._base import EnvName, Identifier, _Strict, invalid_at

CLIENT_LINK = "client"
"""The link between the load and the target: a toxic's link when it names none."""

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PROBED_ROLES: dict[str, ParticipantRole] = {role.name: role for role in CHECKOUT_PARTICIPANTS}
"""The participants the saga probe knows how to read (the checkout shape: ``GET /ledger``, ``/state``)."""


def url_env_name(template: str, participant: str) -> str:
    """The variable that carries ``participant``'s hop URL, from a ``url_env`` template."""
    return template.replace("{NAME}", participant.upper()).replace("{name}", participant)


class ParticipantSpec(_Strict):
    """One participant's own settings: where its URL goes (default: the saga's ``url_env``), extra env."""

    url_env: str | None = None
    env: dict[EnvName, str] = Field(default_factory=dict)


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

    @model_validator(mode="before")
    @classmethod
    def _participants_as_mapping(cls, data: Any) -> Any:
        """``participants: {payments: {url_env: PAY_URL}}`` is names plus their settings."""
        if isinstance(data, dict) and isinstance(data.get("participants"), dict):
            mapping = data["participants"]
            data = {
                **data,
                "participants": tuple(mapping),
                "participant_settings": {name: spec or {} for name, spec in mapping.items()},
            }
        return data

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
            if name not in PROBED_ROLES:
                raise invalid_at(
                    (index,),
                    "the saga probe reads only the checkout shape's participants "
                    f"({', '.join(PROBED_ROLES)})",
                    name,
                )
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
        return self

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
        return tuple(role for role in CHECKOUT_PARTICIPANTS if role.name in self.participants)
