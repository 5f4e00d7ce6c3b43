"""A saga cell's other services: its participants, a fault proxy on every hop, and the saga read after it.

The cell's target is the saga's orchestrator, started and fronted like any target (:mod:`harness.cell`).
Before it, :func:`start_saga_hops` starts each participant the scenario's ``target.saga`` declares (the
same target with its role in ``role_env``, its own data folder and log under the cell folder, through
the same start seam as the target, with the fault's failpoints when they are its own) and puts a proxy
on the hop from the orchestrator to it; the orchestrator is then given each hop proxy's URL in the
variable the saga names, so every call it makes to a participant can be faulted on its own. A fault
that names a participant (``service``) has it, not the orchestrator, killed and restarted behind its
hop (:meth:`SagaHops.supervised`). Once the load has ended, :meth:`SagaHops.read`
waits for the sagas to settle and writes what the orchestrator and every participant's ledger say
(read directly, never through a proxy) as the cell's ``saga.json``.

Everything started here is handed to the cell's exit stacks as it starts: the participants to the
one that stops targets, the hop proxies to the one that deletes proxy entries, so an interrupted or
failed start leaves nothing running.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from harness.faults import FaultPlan, ToxicCall
from harness.proxy.client import ProxyInfo
from harness.runtime.base import TargetInstance
from harness.saga_evidence import SAGA_FILE, SagaEvidence, write_saga_evidence
from harness.saga_reads import probe_sagas, read_saga_evidence
from harness.saga_sources import DeclaredSagaReader, Service
from harness.scenario import SagaSpec, TargetSpec

StartService = Callable[[str, dict[str, str]], TargetInstance]
"""Starts one service of the cell by name (its folder and log) with extra env: the cell's start seam."""

CreateProxy = Callable[[str, str], ProxyInfo]
"""Creates one hop's proxy by name in front of an upstream ``host:port`` (deleted when the cell ends)."""


def participant_data_dir(cell_dir: Path, name: str) -> Path:
    """A participant's data folder in its cell (the orchestrator's is the target's, ``data``)."""
    return cell_dir / f"{name}-data"


def participant_target(target: TargetSpec, name: str) -> TargetSpec:
    """What starts participant ``name``: the target itself, or the command or URL the saga gives it
    (then a variant's own command or URL is the orchestrator's, not the participant's)."""
    assert target.saga is not None
    own = target.saga.participant(name)
    if own.command is None and own.url is None:
        return target
    variants = {
        variant: settings.model_copy(update={"command": None, "url": None})
        for variant, settings in target.variant_settings.items()
    }
    runs = {"command": own.command} if own.command is not None else {"url": own.url, "command": None,
                                                                     "docker": None, "name": None}
    return target.model_copy(update={**runs, "variant_settings": variants, "saga": None})


@dataclass(frozen=True)
class SagaHops:
    """A saga cell's participants, each behind its hop's proxy."""

    spec: SagaSpec
    participants: dict[str, TargetInstance]
    proxies: dict[str, ProxyInfo]
    """The hop proxy in front of each participant, by participant name."""

    def orchestrator_env(self) -> dict[str, str]:
        """Where the orchestrator finds each participant: its hop proxy's URL, in the saga's variable."""
        return {self.spec.url_env_of(name): proxy.base_url for name, proxy in self.proxies.items()}

    def toxics(self, plan: FaultPlan) -> list[tuple[str, ToxicCall]]:
        """The plan's toxics on the hops, each with the proxy it goes on (the nemesis adds, removes them)."""
        return [(self.proxies[toxic.link].name, toxic) for toxic in plan.toxics if toxic.link in self.proxies]

    def supervised(self, plan: FaultPlan) -> tuple[TargetInstance, str] | None:
        """The participant the plan's failpoints and kills are for, with its hop's proxy (closed while
        it restarts); None when they are the orchestrator's."""
        if plan.service is None:
            return None
        return self.participants[plan.service], self.proxies[plan.service].name

    def effects_url(self, orchestrator_url: str) -> str:
        """Where the cell's effects probe reads: the participant the saga names, else the orchestrator."""
        source = self.spec.effects_from
        return orchestrator_url if source is None else self.participants[source].endpoint.base_url

    def read(self, orchestrator_url: str, folder: Path) -> SagaEvidence:
        """Wait (bounded) for the sagas to settle, read them and every ledger directly, and write them
        as the cell's :data:`~harness.saga_evidence.SAGA_FILE`."""
        direct = {name: target.endpoint.base_url for name, target in self.participants.items()}
        if self.spec.declares_reads:
            services = {
                name: Service(url, participant_data_dir(folder, name)) for name, url in direct.items()
            }
            reader = DeclaredSagaReader(self.spec, Service(orchestrator_url, folder / "data"), services)
            evidence = probe_sagas(reader, self.spec.roles, self.spec.settle_s, self.spec.quiet_s)
        else:
            evidence = read_saga_evidence(
                orchestrator_url, direct, self.spec.settle_s, roles=self.spec.roles, quiet_s=self.spec.quiet_s
            )
        write_saga_evidence(folder / SAGA_FILE, evidence)
        return evidence


def participant_env(spec: SagaSpec, name: str) -> dict[str, str]:
    """What one participant is started with beyond the target's env: its own env and its role."""
    role = {spec.role_env: name} if spec.role_env is not None else {}
    return {**spec.participant(name).env, **role}


def start_saga_hops(
    spec: SagaSpec,
    start: StartService,
    create_proxy: CreateProxy,
    targets: ExitStack,
) -> SagaHops:
    """Start every participant at once (each stopped by ``targets`` when the cell ends, even if another
    failed to start), then create the proxy on each hop."""
    participants: dict[str, TargetInstance] = {}
    lock = threading.Lock()

    def start_one(name: str) -> None:
        target = start(name, participant_env(spec, name))
        with lock:
            participants[name] = target
            targets.callback(target.stop)

    with ThreadPoolExecutor(len(spec.participants), thread_name_prefix="saga-start") as pool:
        for future in [pool.submit(start_one, name) for name in spec.participants]:
            future.result()  # the first start that failed ends the cell; the others are stopped with it
    proxies = {
        name: create_proxy(name, participants[name].endpoint.hostport) for name in spec.participants
    }
    ordered = {name: participants[name] for name in spec.participants}
    return SagaHops(spec, ordered, proxies)
