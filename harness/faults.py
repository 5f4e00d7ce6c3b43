"""The fault plan: a scenario's fault turned into Toxiproxy API calls, a kill schedule and target env.

Pure and seeded: the same scenario seed and fault name always give the same plan, whichever variant
runs under it, so naive and idempotent variants face the same fault decisions and reruns repeat them.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field
from typing import Any

from harness.proxy.toxics.registry import per_request_types  # ours, beyond Toxiproxy's set: seeded
from harness.scenario import CLIENT_LINK, FaultSpec


@dataclass(frozen=True)
class ToxicCall:
    """One ``POST /proxies/{proxy}/toxics`` call."""

    name: str
    type: str
    stream: str
    toxicity: float
    attributes: dict[str, Any] = field(default_factory=dict)
    link: str = CLIENT_LINK
    """Which proxy it goes on: the client's, or the hop to a saga participant of that name."""


FAILPOINTS_ENV = "HARNESS_FAILPOINTS"
"""How a target is told its failpoints and their probabilities (``targetkit/failpoints.py`` reads it)."""


@dataclass(frozen=True)
class FaultPlan:
    """Everything the nemesis does for one cell, decided before the load starts."""

    fault: str
    seed: int
    toxics: tuple[ToxicCall, ...]
    kill_times_s: tuple[float, ...]
    """When to kill the target, in seconds after the load's first operation starts (not the run's)."""
    target_env: dict[str, str]
    double_submit: float | None = None
    store_latency_ms: int = 0
    service: str | None = None
    """The saga participant the failpoints and kills are for; None: the target the load talks to."""

    def env_of(self, service: str | None = None) -> dict[str, str]:
        """What one service of the cell is started with (None: the target): the seed for every one,
        the failpoints for the fault's service only."""
        if service == self.service:
            return dict(self.target_env)
        return {name: value for name, value in self.target_env.items() if name != FAILPOINTS_ENV}

    def store_latency_toxic(self, service: str) -> ToxicCall:
        """The latency toxic for the proxy in front of ``service``'s store (``store_latency_ms``)."""
        attributes: dict[str, Any] = {"latency": self.store_latency_ms}
        return ToxicCall(f"{service}_latency", "latency", "downstream", 1.0, attributes)

    def on_link(self, link: str) -> tuple[ToxicCall, ...]:
        """The plan's toxics for one link's proxy (``client``: the one between the load and the target)."""
        return tuple(toxic for toxic in self.toxics if toxic.link == link)

    @property
    def crashes_target(self) -> bool:
        """Whether the target is killed or may end at a failpoint: such a cell restarts it, holds its
        load until the planned kills are made, and is rarely decided early, so it runs longest."""
        return bool(self.kill_times_s) or FAILPOINTS_ENV in self.target_env

    @property
    def http_toxics(self) -> frozenset[str]:
        """The HTTP-aware toxic types the plan uses (a real Toxiproxy server has none of them)."""
        return frozenset(toxic.type for toxic in self.toxics if toxic.type in per_request_types())


def cell_seed(scenario_seed: int, fault: str) -> int:
    """A seed per fault, independent of the variant, stable across Python runs (no ``hash()``)."""
    return (scenario_seed * 1_000_003 + zlib.crc32(fault.encode())) % (2**31)


def plan_fault(fault: str, spec: FaultSpec, scenario_seed: int) -> FaultPlan:
    """Turn one fault of a scenario into its plan."""
    seed = cell_seed(scenario_seed, fault)
    rng = random.Random(seed)
    toxics = []
    for index, toxic in enumerate(spec.toxics):
        attributes = dict(toxic.attributes)
        if toxic.type in per_request_types():
            attributes.setdefault("seed", seed + index)
        toxics.append(
            ToxicCall(
                name=toxic.proxy_name,
                type=toxic.type,
                stream=toxic.stream,
                toxicity=toxic.toxicity,
                attributes=attributes,
                link=toxic.link,
            )
        )
    kill_times: list[float] = []
    if spec.crashes is not None:
        crashes = spec.crashes
        for number in range(crashes.count):
            start = crashes.first_after_s + number * crashes.min_interval_s
            kill_times.append(round(start + rng.uniform(0, crashes.min_interval_s), 3))
    target_env = {"HARNESS_SEED": str(seed)}
    if spec.failpoints:
        target_env[FAILPOINTS_ENV] = ",".join(
            f"{name}={probability}" for name, probability in sorted(spec.failpoints.items())
        )
    return FaultPlan(
        fault=fault,
        seed=seed,
        toxics=tuple(toxics),
        kill_times_s=tuple(kill_times),
        target_env=target_env,
        double_submit=spec.double_submit,
        store_latency_ms=spec.store_latency_ms,
        service=spec.service,
    )
