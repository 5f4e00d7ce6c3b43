"""One cell of a run: one variant under one fault, from starting its target to checking its evidence.

:class:`CellRun` starts the target, puts a proxy in front of it (and in front of its stores when the
fault asks for store latency), lets the nemesis carry out the fault plan around the load, drains and
probes the effects, and checks the cell's evidence; everything it started is stopped in reverse order
(its proxy entries while the proxy still answers, then its target), however the cell ends.
:func:`check_cell` is the same check from a run folder alone (``harness report``).
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, nullcontext, suppress
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

from harness.cell_watch import TALLY_INTERVAL_S, TALLY_REST, CellWatch
from harness.checker import CellExpectations, judge, safely, scan_files, unknown_cell
from harness.effects import EffectsProbe, HttpLedgerProbe, probe_for, require_effects, wait_until_drained
from harness.errors import HarnessError, HistoryError
from harness.events import RunEvents
from harness.faults import FaultPlan, ToxicCall
from harness.history import HistoryWriter, ToxicHit
from harness.ledger import Effect, encode_effects
from harness.load.config import (
    Distribution,
    DriverSummary,
    LoadCellConfig,
    driver_started_early,
    worker_histories,
)
from harness.load.link import LoadLink
from harness.nemesis import NemesisEvent, toxic_hits
from harness.opids import op_id_prefix
from harness.pidfiles import PidRegistry
from harness.ports import LOOPBACK, join_hostport
from harness.proxy.client import ProxyInfo
from harness.resource_states import STATES_FILE, read_states
from harness.run_options import RunOptions
from harness.runtime.base import Endpoint, Runtime, TargetInstance
from harness.runtime.byo import start_target
from harness.saga_cell import SagaHops, participant_data_dir, participant_target, start_saga_hops
from harness.saga_evidence import SAGA_FILE, read_saga_evidence_file
from harness.scenario import CLIENT_LINK, Scenario
from harness.seams import LoadDriver, NemesisFactory, ProbeFactory, ProxyApi
from harness.services import ServiceSet
from harness.state_reads import read_resource_states
from harness.stopping import cell_gates, decide_cell
from harness.verdict import CellVerdict, StopNote

CLIENT_HISTORY = "history.jsonl"
FAULT_HISTORY = "faults.jsonl"
EFFECTS_FILE = "effects.json"  # written last in a cell: a cell folder without it did not finish
WALL_TIME_FILE = "wall-time.txt"  # the cell's wall time in seconds, for a rebuilt report to show it too
STOP_FILE = "stop.json"  # why the cell's load stopped before its budget, when it did
EARLY_DRIVER_WAIT_S = 60.0
"""How long a load process started early waits for its config beyond the target's start timeout."""
# Stores that sit behind a latency proxy when a fault asks for store latency (not the SMTP sink).
LATENCY_PROXIED_SERVICES = ("postgres", "redis", "rabbitmq")


class ScenarioProbes:
    """The default :class:`~harness.seams.ProbeFactory`: the probe the scenario's ``target.effects`` names."""

    def __init__(self, scenario: Scenario, services: ServiceSet | None) -> None:
        self.spec = scenario.target.effects
        self.services = services

    def __call__(self, variant: str, fault: str, base_url: str, data_dir: Path) -> EffectsProbe:
        spec = self.spec
        if spec.source == "smtp":
            assert self.services is not None  # the scenario model requires smtp among services
            url = self.services.smtp_effects_url(cell_id(variant, fault))
            return HttpLedgerProbe(url, op_ref_field=spec.op_ref_field, id_field=spec.id_field)
        return probe_for(spec, base_url, data_dir, variant)


def cell_id(variant: str, fault: str) -> str:
    """A cell's name in the run folder (``cells/<id>``) and the stores' per-cell names."""
    return f"{variant}--{fault}"


def cell_dir(out_dir: Path, variant: str, fault: str) -> Path:
    """Where one cell's evidence lives in the run folder."""
    return out_dir / "cells" / cell_id(variant, fault)


@dataclass(frozen=True)
class CellContext:
    """What every cell of one run shares."""

    scenario: Scenario
    options: RunOptions
    out_dir: Path
    runtime: Runtime
    client: ProxyApi
    events: RunEvents
    services: ServiceSet | None
    registry: PidRegistry
    nemesis: NemesisFactory
    load_driver: LoadDriver
    effects_probe: ProbeFactory


def check_cell(
    scenario: Scenario,
    plan: FaultPlan,
    variant: str,
    folder: Path,
    effects: Iterable[Effect] | Callable[[], Iterable[Effect]],
    live: Sequence[ToxicHit] = (),
    *,
    running: bool = False,
) -> CellVerdict:
    """Check one cell's evidence: its history files (the client's, each Locust worker's, the faults')
    against ``effects``. A run does it as each cell ends, ``harness report`` from a run folder, and a
    running cell's watch (:mod:`harness.cell_watch`) at each look, where ``effects`` is a probe called
    *after* the history is read, so that every acknowledgement read has its effect among them, and
    ``live`` holds what the nemesis records only when the cell ends (the proxy's toxic hits so far).
    ``running``: the cell's load has not ended, so it has no :data:`STOP_FILE` yet (written once the
    load ends) and a look every half second need not try to read one.

    The resource states the cell read after its load (:data:`~harness.resource_states.STATES_FILE`)
    go to the method checkers, its saga evidence (:data:`~harness.saga_evidence.SAGA_FILE`) to the
    saga checkers; a running cell has neither yet, and those checkers then say ``unknown``.

    The files are streamed through the checker's scan, never held as events: a million operations
    take seconds. A damaged history or states line is a :class:`~harness.errors.HistoryError`; any
    other failure of the check makes the cell ``unknown``."""
    paths = [*client_histories(folder), folder / FAULT_HISTORY]
    expect = cell_expectations(scenario, plan, variant)
    probed: list[Effect] = []  # the first effect only: the rest stream through (ledger.stream_effects)

    def effects_after_history() -> Iterator[Iterable[Effect]]:
        stream = iter(effects() if callable(effects) else effects)
        probed.extend(itertools.islice(stream, 1))
        yield probed
        yield stream

    stop = None if running else read_stop_note(folder)
    states_path = folder / STATES_FILE
    states = None if running or not states_path.exists() else list(read_states(states_path))
    saga = None if running else read_saga_evidence_file(folder / SAGA_FILE)
    try:
        evidence = scan_files(
            paths,
            itertools.chain.from_iterable(effects_after_history()),
            expect=expect,
            live=live,
            states=states,
            saga=saga,
        )
    except HistoryError:
        raise
    except Exception as error:  # evidence the checker cannot make sense of: an unknown cell
        return replace(unknown_cell(variant, plan.fault, error), stop=stop)
    require_effects(probed, evidence.outcome_counts()["acknowledged"], scenario.target.effects.source)
    verdict = safely(variant, plan.fault, lambda: judge(evidence, variant=variant, fault=plan.fault))
    return replace(verdict, stop=stop)


def client_histories(folder: Path) -> list[Path]:
    """The load's history files of a cell: the client's, and each Locust worker's
    (``history.<worker>.jsonl``, written there or shipped: :mod:`harness.load.distributed`)."""
    return [folder / CLIENT_HISTORY, *worker_histories(folder)]


def read_stop_note(folder: Path) -> StopNote | None:
    """The cell's early stop as its folder records it (:data:`STOP_FILE`); None if it ran its budget."""
    try:
        data = json.loads((folder / STOP_FILE).read_text(encoding="utf-8"))
        return StopNote(int(data["operations"]), str(data["reason"]), tuple(map(str, data["bounds"])))
    except (OSError, ValueError, KeyError, TypeError):  # absent (ran its budget) or unreadable
        return None


def recorded_wall_time(folder: Path) -> float:
    """The wall time a run recorded for the cell in ``folder``; 0 when it recorded none."""
    try:
        return float((folder / WALL_TIME_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a cell that did not finish, or a folder from an older harness
        return 0.0


def cell_expectations(scenario: Scenario, plan: FaultPlan, variant: str) -> CellExpectations:
    """What a cell's fault was meant to do, for the checkers' guards (exposure, acknowledged)."""
    spec = scenario.faults[plan.fault]
    load_double_submit = scenario.load.double_submit
    return CellExpectations(
        fault_acts=spec.acts(load_double_submit),
        min_exposed=spec.exposure_needed(load_double_submit),
        min_acknowledged_rate=scenario.target.variant(variant).min_acknowledged_rate,
        per_request_toxics=frozenset(  # the client's: a hop proxy's decisions name no operation
            toxic.proxy_name
            for toxic in spec.toxics
            if toxic.type in plan.http_toxics and toxic.link == CLIENT_LINK
        ),
        resource_methods=frozenset(
            operation.method
            for operation in scenario.target.operations
            if operation.resource is not None  # an operation on a resource it made
        ),
        saga=scenario.target.saga is not None,
    )


class CellRun:
    """One variant under one fault: start, fault, load, probe, check, and clean up."""

    def __init__(self, context: CellContext, plan: FaultPlan, variant: str) -> None:
        self.context = context
        self.scenario = context.scenario
        self.plan = plan
        self.variant = variant
        self.cell_id = cell_id(variant, plan.fault)
        self.dir = cell_dir(context.out_dir, variant, plan.fault)
        self.client = context.client
        self.proxy_name = f"{self.scenario.name}-{self.cell_id}"

    def run(self) -> CellVerdict:
        """The cell's verdict, with its wall time from here to its check (recorded in its folder)."""
        started = time.monotonic()
        verdict = self._run()
        wall_time_s = round(time.monotonic() - started, 3)
        (self.dir / WALL_TIME_FILE).write_text(f"{wall_time_s}\n", encoding="utf-8")
        self._tally(verdict, final=True)
        return replace(verdict, duration_s=wall_time_s)

    def _run(self) -> CellVerdict:
        load = self.scenario.load
        operations = self.context.options.operations or load.operations
        self.context.events.cell_started.fire(
            variant=self.variant, fault=self.plan.fault, operations=operations
        )
        with ExitStack() as stack:
            faults_history = stack.enter_context(HistoryWriter(self.dir / FAULT_HISTORY))
            config_path = self.dir / "load.json"
            # the load process imports Locust while the target starts; it reads its config later
            wait_s = self.scenario.target.start_timeout_s + EARLY_DRIVER_WAIT_S
            driver = self.context.load_driver
            distribution = self._distribution()
            stack.enter_context(driver_started_early(driver, config_path, distribution, wait_s))
            # closed in reverse: the proxy entries go first, while the proxy answers, then the target
            targets = stack.enter_context(ExitStack())
            entries = stack.enter_context(ExitStack())
            env, store_toxics = self._target_env(entries)
            hops = self._start_saga_hops(targets, entries)
            if hops is not None:
                env.update(hops.orchestrator_env())
                store_toxics.extend(hops.toxics(self.plan))
            target = start_target(
                self.context.runtime,
                self.scenario.target,
                self.variant,
                data_dir=self.dir / "data",
                log_path=self.dir / "target.log",
                env=env,
                registry=self.context.registry,
                run_id=self.context.out_dir.name,
            )
            targets.callback(target.stop)
            upstream = target.endpoint.hostport
            proxy = self._create_proxy(entries, self.proxy_name, upstream, self._load_listen())
            config = LoadCellConfig(
                load=load.for_cell(operations=operations, double_submit=self.plan.double_submit),
                base_url=proxy.base_url,
                kinds=self.scenario.target.operations,
                variant=self.variant,
                fault=self.plan.fault,
                seed=self.plan.seed,
                history_path=str(self.dir / CLIENT_HISTORY),
                op_id_prefix=op_id_prefix(self.context.out_dir.name, self.variant, self.plan.fault),
            )
            target_url = target.endpoint.base_url  # the same port after every restart
            effects_url = target_url if hops is None else hops.effects_url(target_url)
            client_plan = replace(self.plan, toxics=self.plan.on_link(CLIENT_LINK))  # hops': store_toxics
            # the service the fault kills and restarts: the orchestrator, or the participant it names
            supervised = None if hops is None else hops.supervised(self.plan)
            crashed, restart_proxy = supervised or (target, None)
            nemesis = self.context.nemesis(
                client_plan, self.client, self.proxy_name, crashed, faults_history, store_toxics, self._fault,
                restart_proxy=restart_proxy,
            )
            with nemesis:
                watch = self._watch(nemesis.load, lambda: effects_url)
                with watch or nullcontext():
                    summary = driver(
                        config,
                        config_path,
                        on_progress=self._progress,
                        timeout_s=load.max_duration_s + 60,
                        distribution=distribution,
                        link=nemesis.load,
                    )
                self._record_stop(watch, summary)
                # still supervised: a queue-backed target can crash on its backlog while it drains
                self._settle(target.endpoint.base_url)
                if hops is not None:  # an orchestrator resuming its sagas may crash again: restarted
                    hops.read(target_url, self.dir)
            effects = self._probe(effects_url, config)
        return check_cell(self.scenario, self.plan, self.variant, self.dir, effects)

    def _watch(self, link: LoadLink, base_url: Callable[[], str]) -> CellWatch | None:
        """A watch that stops the load once the cell's gates are decided, and tells each look's counts
        to the ``cell_tally`` hook while anyone listens to it. None when neither is wanted: the cell
        runs its whole budget (``--fixed``, ``load.stop: fixed``, or no gate on it to decide) and
        nobody listens (a look reads the whole history so far: no cost for nothing)."""
        load = self.scenario.load
        gates = cell_gates(self.scenario.gates, self.variant, self.plan.fault)
        decides = not (self.context.options.fixed or load.stop == "fixed" or not gates)
        heard = self.context.events.cell_tally.heard
        if not decides and not heard:
            return None

        def look() -> CellVerdict:
            probe = self.context.effects_probe(self.variant, self.plan.fault, base_url(), self.dir / "data")
            hits = toxic_hits(self.client, self.proxy_name) if self.plan.http_toxics else []
            return check_cell(
                self.scenario, self.plan, self.variant, self.dir, probe.read, hits, running=True
            )

        seen = partial(self._tally, final=False) if heard else None
        if not decides:
            return CellWatch(look, None, link, TALLY_INTERVAL_S, seen=seen, rest=TALLY_REST)
        return CellWatch(look, lambda verdict: decide_cell(verdict, gates, load.confidence), link, seen=seen)

    def _tally(self, verdict: CellVerdict, *, final: bool) -> None:
        """Fire ``cell_tally``; a look whose check failed as a whole (no checker ran) counts nothing,
        and is not told: its zeros would run the counters back."""
        if not final and not verdict.checks:
            return
        self.context.events.cell_tally.fire(
            variant=self.variant, fault=self.plan.fault, tally=verdict.tallies, final=final
        )

    def _record_stop(self, watch: CellWatch | None, summary: object) -> None:
        """Write :data:`STOP_FILE` when the watch stopped the load before its budget was spent (a load
        that ended on its own as the watch decided ran its whole budget after all)."""
        note = None if watch is None else watch.note
        if note is None or (isinstance(summary, DriverSummary) and summary.stopped_by != "decided"):
            return
        document = {"operations": note.operations, "reason": note.reason, "bounds": list(note.bounds)}
        (self.dir / STOP_FILE).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    def _progress(self, completed: int, total: int) -> None:
        self.context.events.cell_progress.fire(
            variant=self.variant, fault=self.plan.fault, completed=completed, total=total
        )

    def _fault(self, event: NemesisEvent) -> None:
        self.context.events.fault.fire(variant=self.variant, fault=self.plan.fault, event=event)

    def _distribution(self) -> Distribution | None:
        options = self.context.options
        if not options.workers:
            return None
        local = not options.master
        return Distribution(options.workers, local, options.master_bind_host, options.master_port)

    def _target_env(self, stack: ExitStack) -> tuple[dict[str, str], list[tuple[str, ToxicCall]]]:
        """The plan's env, the scenario's, and each store's address; with store latency asked, the
        address of a proxy in front of the store, and the toxic the nemesis puts on it for the load."""
        env = {**self.scenario.target.env, **self.plan.env_of(None)}
        services = self.context.services
        if services is None:
            return env, []
        addresses: dict[str, Endpoint] = {}
        store_toxics: list[tuple[str, ToxicCall]] = []
        if self.plan.store_latency_ms:
            for name, endpoint in services.endpoints.items():
                if name not in LATENCY_PROXIED_SERVICES:
                    continue
                store_proxy = self._create_proxy(stack, f"{self.proxy_name}--{name}", endpoint.hostport)
                addresses[name] = Endpoint(store_proxy.listen_host, store_proxy.listen_port)
                store_toxics.append((store_proxy.name, self.plan.store_latency_toxic(name)))
        return {**env, **services.cell_env(self.cell_id, addresses)}, store_toxics

    def _load_listen(self) -> str:
        """Where the client-facing proxy listens: loopback, or the master's bind host for remote workers.

        A remote worker sends its load to the address it reached the master at (``--master-host``)
        when the proxy's host is a wildcard or loopback one (:mod:`harness.load.distributed`).
        """
        options = self.context.options
        host = options.master_bind_host if options.master else LOOPBACK
        return join_hostport(host, 0)

    def _start_saga_hops(self, targets: ExitStack, entries: ExitStack) -> SagaHops | None:
        """The saga's participants and their hops' proxies, when the target declares a saga."""
        saga = self.scenario.target.saga
        if saga is None:
            return None

        def start(name: str, env: dict[str, str]) -> TargetInstance:
            return start_target(
                self.context.runtime,
                participant_target(self.scenario.target, name),
                self.variant,
                data_dir=participant_data_dir(self.dir, name),
                log_path=self.dir / f"{name}.log",
                env={**self.scenario.target.env, **self.plan.env_of(name), **env},
                registry=self.context.registry,
                run_id=self.context.out_dir.name,
            )

        def create_proxy(name: str, upstream: str) -> ProxyInfo:
            return self._create_proxy(entries, f"{self.proxy_name}--hop-{name}", upstream)

        return start_saga_hops(saga, start, create_proxy, targets)

    def _create_proxy(
        self, stack: ExitStack, name: str, upstream: str, listen: str = f"{LOOPBACK}:0"
    ) -> ProxyInfo:
        proxy = self.client.create_proxy(name, upstream=upstream, listen=listen)

        def delete() -> None:
            # the proxy process may already be gone on an interrupted run
            with suppress(HarnessError):
                self.client.delete_proxy(name)

        stack.callback(delete)
        return proxy

    def _settle(self, base_url: str) -> None:
        """Let asynchronous work finish before the effects are read."""
        spec = self.scenario.target.effects
        if spec.drain_path is not None:
            wait_until_drained(f"{base_url}{spec.drain_path}", timeout_s=max(spec.settle_s, 1.0))
        elif spec.settle_s:
            time.sleep(spec.settle_s)

    def _probe(self, base_url: str, config: LoadCellConfig) -> list[Effect]:
        """Read the effects, then the resources' states (so the twins those reads make never count
        as effects), then write the effects: the cell's last file, there only if the rest is."""
        probe = self.context.effects_probe(self.variant, self.plan.fault, base_url, self.dir / "data")
        effects = probe.read()
        read_resource_states(config, base_url, client_histories(self.dir), self.dir / STATES_FILE)
        (self.dir / EFFECTS_FILE).write_bytes(encode_effects(effects))
        return effects
