"""The whole scenario file: a target's variants × faults, the load, the gates, and where the proxy is.

Checks that need more than one block live here: gates name real variants and faults, a url target
is reachable and crashable, a reference target knows the failpoints its faults name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from harness.errors import HarnessError
from harness.scenario._base import Identifier, _Strict, check_identifier_keys, invalid_at
from harness.scenario.faults import FaultSpec, check_reference_failpoints
from harness.scenario.gates import GateSpec, gate_specs
from harness.scenario.load import LoadSpec
from harness.scenario.saga import CLIENT_LINK
from harness.scenario.target import TargetSpec, is_loopback_url

MAX_PARALLEL_CELLS = 16
"""The most cells a run makes at once: each is a target, its proxies and a load process on this machine."""


class ProxySpec(_Strict):
    """Where the fault proxy is: embedded (default) or a real Toxiproxy server by URL."""

    url: str | None = None


class Scenario(_Strict):
    """A whole run: target variants × faults, the load, and the gates."""

    name: Identifier
    description: str = ""
    seed: int = 1
    runtime: Literal["process", "docker", "auto"] = "process"
    target: TargetSpec
    load: LoadSpec = LoadSpec()
    faults: dict[str, FaultSpec]
    gates: dict[str, GateSpec | tuple[GateSpec, ...]] = Field(default_factory=dict)
    proxy: ProxySpec = ProxySpec()
    allow_remote: bool = Field(False, description="allow a url target that is not on loopback")
    parallel_cells: int = Field(
        1,
        ge=1,
        le=MAX_PARALLEL_CELLS,
        description="how many cells run at once, each with its own target, proxies and load process",
    )

    @field_validator("faults", mode="before")
    @classmethod
    def _fault_names_are_identifiers(cls, faults: object) -> object:
        """A fault's name becomes a cell folder and part of a proxy's name."""
        if isinstance(faults, dict):
            check_identifier_keys(faults)
        return faults

    @field_validator("faults")
    @classmethod
    def _failpoints_known(cls, faults: dict[str, FaultSpec], info: ValidationInfo) -> dict[str, FaultSpec]:
        """A reference target's failpoints are known; a typo would crash nothing and pass the gate."""
        target = info.data.get("target")
        if isinstance(target, TargetSpec) and target.kind == "reference" and target.name is not None:
            check_reference_failpoints(target.name, faults)
        return faults

    @model_validator(mode="after")
    def _cells_named_apart(self) -> Scenario:
        """A cell is named ``<variant>--<fault>``: ``a--b`` × ``c`` would be ``a`` × ``b--c``."""
        for field, names in (("target.variants", self.target.variants), ("faults", tuple(self.faults))):
            for name in names:
                if "--" in name:
                    raise ValueError(f"{field}: {name!r}: '--' separates variant and fault in a cell's name")
        return self

    @model_validator(mode="after")
    def _gates_name_variants(self) -> Scenario:
        if not self.faults:
            raise ValueError("faults: at least one fault is needed (use {none: {}} for a baseline)")
        self._url_target_fits()
        self._toxic_links_exist()
        self._fault_services_exist()
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

    def _toxic_links_exist(self) -> None:
        """A toxic's link is the client's or a hop to a participant the target's saga declares."""
        saga = self.target.saga
        links = saga.links if saga is not None else (CLIENT_LINK,)
        for name, fault in self.faults.items():
            for index, toxic in enumerate(fault.toxics):
                if toxic.link not in links:
                    no_saga = f"{CLIENT_LINK} (no target.saga declared)"
                    known = ", ".join(links) if saga is not None else no_saga
                    problem = f"no such link (links: {known})"
                    raise invalid_at(("faults", name, "toxics", index, "link"), problem, toxic.link)

    def _fault_services_exist(self) -> None:
        """A fault's ``service`` is a participant the saga declares, and has failpoints or crashes."""
        saga = self.target.saga
        for name, fault in self.faults.items():
            if fault.service is None:
                continue
            where = ("faults", name, "service")
            if saga is None or fault.service not in saga.participants:
                known = ", ".join(saga.participants) if saga is not None else "none: no target.saga declared"
                raise invalid_at(where, f"no such participant (participants: {known})", fault.service)
            if not (fault.failpoints or fault.crashes):
                raise invalid_at(where, "names whose failpoints and crashes these are; the fault has neither",
                                 fault.service)

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


class Catalogue(_Strict):
    """A file that names other scenario files, run in order (``scenarios/all.yaml``)."""

    name: Identifier
    description: str = ""
    scenarios: tuple[str, ...] = Field(min_length=1)
