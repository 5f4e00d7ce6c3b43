"""The ``faults`` block: toxics on the proxy, crashes of the target, and failpoints inside it.

A toxic's type and attributes are checked against the fault proxy's own toxic models when the file
loads, so a typo stops ``harness validate`` instead of a run whose target has already started.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from harness.scenario._base import Identifier, _Strict, check_identifier_keys, invalid_at
from harness.scenario.saga import CLIENT_LINK

REFERENCE_FAILPOINTS: dict[str, frozenset[str]] = {
    "payments": frozenset({"before_commit", "after_commit_before_response", "between_check_and_act"}),
    "orders": frozenset({"before_commit", "after_commit_before_response", "between_check_and_act"}),
    "inventory": frozenset({"before_commit", "after_commit_before_response", "between_check_and_act"}),
    "consumer": frozenset({"before_commit", "after_commit_before_response", "after_effect_before_ack"}),
    "mailer": frozenset({"before_commit", "after_commit_before_response", "after_send_before_ack"}),
    "checkout": frozenset(
        {"before_commit", "after_commit_before_response", "after_step_1", "after_step_2", "after_step_3"}
    ),
}
"""The failpoints each reference target knows (its ``FAILPOINTS``; a test keeps the two equal).

A target refuses an unknown name only when it starts; the scenario refuses it when it loads.
"""


class ToxicSpec(_Strict):
    """One toxic, in Toxiproxy's own terms (type, stream, toxicity, attributes).

    ``attributes`` stay as written (they are sent as they are); they are checked against the toxic
    type's attribute model, which the fault proxy's registry loads only when a scenario is validated.
    ``link``: the proxy it goes on: ``client`` (between the load and the target), or a saga
    participant's name (the hop from the orchestrator to it, ``target.saga``).
    """

    type: str
    link: Identifier = CLIENT_LINK
    name: Identifier | None = None
    stream: Literal["upstream", "downstream"] = "downstream"
    toxicity: float = Field(1.0, ge=0, le=1)
    attributes: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _known_type(cls, type_name: str) -> str:
        from harness.proxy.toxics.registry import toxic_types  # the toxics, only once a file is checked

        known = toxic_types()
        if type_name not in known:
            raise ValueError(f"unknown toxic type (known: {', '.join(sorted(known))})")
        return type_name

    @field_validator("attributes")
    @classmethod
    def _attributes_fit_the_type(cls, attributes: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """The toxic's own model decides; its errors read ``attributes.<field>``."""
        from harness.proxy.toxics.registry import lookup

        toxic = lookup(info.data["type"]) if "type" in info.data else None
        if toxic is not None:
            toxic.model.model_validate(attributes)
        return attributes

    @property
    def proxy_name(self) -> str:
        """The toxic's name on the proxy: the one given, else ``<type>_<stream>``."""
        return self.name or f"{self.type}_{self.stream}"


class CrashSpec(_Strict):
    """Kill the target at seeded random times during the load, then restart it on the same data."""

    count: int = Field(2, ge=1, le=1000)
    min_interval_s: float = Field(1.0, gt=0, le=3600)  # a cell's load lasts at most an hour
    first_after_s: float = Field(0.5, ge=0, le=3600)


class FaultSpec(_Strict):
    """One fault condition: toxics on the proxy, crash schedule, and target failpoints.

    ``service``: whose failpoints and crashes these are: the target the load talks to (unset), or a
    saga participant by name (``target.saga``), which then is the one killed, failed and restarted.
    """

    description: str = ""
    toxics: tuple[ToxicSpec, ...] = ()
    crashes: CrashSpec | None = None
    failpoints: dict[str, float] = Field(default_factory=dict)
    service: Identifier | None = None
    double_submit: float | None = Field(
        None, ge=0, le=1, description="overrides load.double_submit while this fault runs"
    )
    store_latency_ms: int = Field(
        0, ge=0, le=60_000, description="latency between the target and its stores, to widen race windows"
    )
    min_exposed: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description=(
            "operations this fault must hit for a cell to be conclusive (default: 1 when it does anything; "
            "0 turns the guard off)"
        ),
    )

    def acts(self, load_double_submit: float = 0.0) -> bool:
        """Whether the fault does anything that should hit operations (a baseline ``{}`` does not)."""
        double_submit = self.double_submit if self.double_submit is not None else load_double_submit
        return bool(self.toxics or self.crashes or self.failpoints or double_submit or self.store_latency_ms)

    def exposure_needed(self, load_double_submit: float = 0.0) -> int:
        """``min_exposed``, or its default: one operation hit, when the fault does anything."""
        if self.min_exposed is not None:
            return self.min_exposed
        return 1 if self.acts(load_double_submit) else 0

    @field_validator("toxics")
    @classmethod
    def _toxic_names_unique(cls, toxics: tuple[ToxicSpec, ...]) -> tuple[ToxicSpec, ...]:
        """Two toxics of one name would be one on the proxy: the second refused mid-run."""
        seen: dict[str, int] = {}
        for index, toxic in enumerate(toxics):
            if toxic.proxy_name in seen:
                raise invalid_at(
                    (index, "name"),
                    f"toxic {seen[toxic.proxy_name]} has the same name; give each toxic its own name",
                    toxic.proxy_name,
                )
            seen[toxic.proxy_name] = index
        return toxics

    @field_validator("failpoints")
    @classmethod
    def _probabilities(cls, failpoints: dict[str, float]) -> dict[str, float]:
        check_identifier_keys(failpoints)  # sent to the target in its environment
        for name, probability in failpoints.items():
            if not 0 <= probability <= 1:
                raise ValueError(f"failpoint {name!r} probability must be within 0..1")
        return failpoints


def check_reference_failpoints(target_name: str, faults: dict[str, FaultSpec]) -> None:
    """Refuse a failpoint the reference target ``target_name`` does not know (errors below ``faults``)."""
    known = REFERENCE_FAILPOINTS.get(target_name)
    if known is None:
        return
    for fault_name, fault in faults.items():
        for failpoint in fault.failpoints:
            if failpoint not in known:
                raise invalid_at(
                    (fault_name, "failpoints", failpoint),
                    f"target {target_name} has no such failpoint (known: {', '.join(sorted(known))})",
                    None,
                )
