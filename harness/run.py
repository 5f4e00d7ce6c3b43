"""One run of a scenario: every variant × fault cell, then the verdict and the gates.

:class:`Run` is the composition root (Locust's ``Environment``): built with keyword arguments, it owns
the scenario, the options, the runtime, the proxy client, the nemesis factory, the load driver, the
effects probes, the run folder and its :class:`~harness.events.RunEvents`. It fires those events and
knows nobody who hears them: progress, reports, summaries and the baseline gate are listeners
(:mod:`harness.listeners`). Every seam but the scenario has a real default, and each is a small protocol
(:mod:`harness.seams`) so a unit test builds a run from in-memory fakes::

    run = Run(scenario=scenario, scenario_path="payments.yaml", options=RunOptions(seed=7))
    subscribe_listeners(run.events, console=console)
    result = run.run()

This module owns clean-up: the proxy, every target process and every proxy entry live in one
``ExitStack``, so a run that ends, fails or is interrupted (Ctrl-C, SIGTERM) leaves nothing behind.
Every helper runs in its own session, out of reach of a terminal's Ctrl-C, so the teardown goes in
order: each cell's proxy entries while the proxy still answers, its target, then the stores, the proxy
last. An interrupted run then still reports the cells that finished (:class:`RunInterrupted`), and
``run-record.json`` lets ``harness report`` remake the reports from the run folder alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.checker import CellExpectations, check_safe
from harness.effects import EffectsProbe, HttpLedgerProbe, probe_for, require_effects, wait_until_drained
from harness.errors import HarnessError
from harness.events import RunEvents
from harness.faults import FaultPlan, ToxicCall, plan_fault
from harness.gate import evaluate_gates
from harness.history import HistoryWriter, OpEnd, read_history
from harness.ledger import Effect
from harness.load.config import Distribution, LoadCellConfig, run_driver, worker_histories
from harness.nemesis import Nemesis, NemesisEvent
from harness.opids import op_id_prefix
from harness.pidfiles import PidRegistry
from harness.ports import LOOPBACK, join_hostport
from harness.proxy.client import ProxyClient, ProxyInfo
from harness.proxy.embedded import EmbeddedProxy
from harness.report.record import RunRecord
from harness.result import GateResult, RunResult
from harness.runtime.base import Endpoint, Runtime
from harness.runtime.byo import start_target
from harness.runtime.select import select_runtime
from harness.scenario import Scenario
from harness.seams import LoadDriver, NemesisFactory, ProbeFactory, ProxyApi
from harness.services import ServiceSet
from harness.verdict import CellVerdict, RunVerdict

CLIENT_HISTORY = "history.jsonl"
FAULT_HISTORY = "faults.jsonl"
EFFECTS_FILE = "effects.json"  # written last in a cell: a cell folder without it did not finish
# A machine without a RabbitMQ broker still runs the consumer scenario, on the target's embedded queue.
OPTIONAL_SERVICES = ("rabbitmq",)
# Stores that sit behind a latency proxy when a fault asks for store latency (not the SMTP sink).
LATENCY_PROXIED_SERVICES = ("postgres", "redis", "rabbitmq")


@dataclass(frozen=True)
class RunOptions:
    """Overrides a user gives on the command line; ``None`` keeps the scenario's own value."""

    out_root: Path = Path("reports")
    runtime: str | None = None
    proxy_url: str | None = None
    seed: int | None = None
    operations: int | None = None
    faults: tuple[str, ...] = ()  # run only these faults of the scenario (all when empty)
    workers: int = 0  # Locust worker processes per cell; 0: one driver process, no master
    master: bool = False  # the workers run on other machines (`harness run --worker` there)
    master_bind_host: str = "127.0.0.1"  # where the master listens for workers
    master_port: int = 0  # 0: a free port (local workers only)


def new_run_id(scenario: Scenario) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{scenario.name}"


class Run:
    """One run of one scenario; build it, subscribe listeners to ``events``, then call :meth:`run`.

    ``runtime`` None picks the scenario's (or ``options.runtime``); ``proxy_client`` None starts the
    embedded proxy, or connects to ``options.proxy_url`` / the scenario's / ``$TOXIPROXY_URL`` (a client
    passed in is the caller's: the run neither starts nor closes it). ``effects_probe`` None reads the
    effects the scenario's ``target.effects`` names.
    """

    def __init__(
        self,
        *,
        scenario: Scenario,
        scenario_path: str = "",
        options: RunOptions = RunOptions(),
        events: RunEvents | None = None,
        runtime: Runtime | None = None,
        proxy_client: ProxyApi | None = None,
        nemesis: NemesisFactory = Nemesis,
        load_driver: LoadDriver = run_driver,
        effects_probe: ProbeFactory | None = None,
    ) -> None:
        self.scenario = scenario
        self.scenario_path = scenario_path
        self.options = options
        self.events = events if events is not None else RunEvents()
        self.runtime = runtime
        self.proxy_client = proxy_client
        self.nemesis = nemesis
        self.load_driver = load_driver
        self.effects_probe = effects_probe
        self.out_dir: Path | None = None
        """The run folder, once :meth:`run` has made it."""

    def run(self) -> RunResult:
        """Run every cell, check it, evaluate the gates; fire the events on the way; return the result.

        Interrupted (Ctrl-C, SIGTERM), it first stops everything it started, then still fires
        ``run_checked`` and ``run_finished`` with the cells that finished and the rest ``interrupted``
        (so the listeners write a partial report), and raises :class:`RunInterrupted` carrying that result.
        """
        scenario, options, events = self.scenario, self.options, self.events
        seed = scenario.seed if options.seed is None else options.seed
        plans = [
            plan_fault(name, scenario.faults[name], seed) for name in scenario.chosen_faults(options.faults)
        ]
        run_id = new_run_id(scenario)
        # absolute: services and targets run from other working directories
        out_root = options.out_root.resolve()
        out_dir = self.out_dir = _fresh_run_dir(out_root, run_id)
        events.run_started.fire(
            run_id=run_id, scenario=scenario, scenario_path=self.scenario_path, out_dir=out_dir
        )
        registry = PidRegistry(out_root / ".pids")
        runtime = self.runtime or _pick_runtime(scenario, options, registry, self._note, out_dir.name)
        record = RunRecord(
            run_id=run_id,
            scenario_path=self.scenario_path,
            seed=seed,
            runtime=runtime.name,
            proxy=self._proxy_shown(),
            started_at=time.time(),
            faults=tuple(plan.fault for plan in plans),
            operations=options.operations,
        )
        record.write(out_dir, scenario)
        cells: list[CellVerdict] = []
        interrupted = False
        try:
            self._run_cells(plans, out_dir, runtime, registry, cells)
        except KeyboardInterrupt:  # everything the cells started is stopped by now: report what finished
            interrupted = True
        finally:
            registry.close()  # nothing is left to record: `harness clean` finds no owner of this run
        duration_s = round(time.time() - record.started_at, 3)
        result = result_of(scenario, record, out_dir, cells, duration_s=duration_s, interrupted=interrupted)
        added: list[GateResult] = []
        events.run_checked.fire(result=result, add_gates=added.extend)
        result = dataclasses.replace(result, gates=result.gates + tuple(added))
        events.run_finished.fire(result=result)
        if interrupted:
            raise RunInterrupted(result)
        return result

    def _run_cells(
        self,
        plans: list[FaultPlan],
        out_dir: Path,
        runtime: Runtime,
        registry: PidRegistry,
        cells: list[CellVerdict],
    ) -> None:
        """Every cell in scenario order, each verdict appended to ``cells`` as it is checked.

        Torn down in order, whatever ends it: each cell deletes its proxy entries (the proxy still
        alive: it is in its own session, out of reach of a terminal's Ctrl-C), then stops its target;
        then the stores stop, and the proxy last.
        """
        scenario, events = self.scenario, self.events
        with ExitStack() as stack:
            client = self._connect_proxy(stack, out_dir)
            client.version()  # fail early, naming the URL, if nothing answers there
            _require_http_toxics(client, plans)
            services = _start_services(scenario, out_dir, registry, self._note, stack)
            context = _RunContext(
                scenario=scenario,
                options=self.options,
                out_dir=out_dir,
                runtime=runtime,
                client=client,
                events=events,
                services=services,
                registry=registry,
                nemesis=self.nemesis,
                load_driver=self.load_driver,
                effects_probe=self.effects_probe or ScenarioProbes(scenario, services),
            )
            if services is not None:
                variants = scenario.target.variants
                services.prepare(context.cell_id(v, plan.fault) for plan in plans for v in variants)
            for plan in plans:
                for variant in scenario.target.variants:
                    cell_verdict = _CellRun(context, plan, variant).run()
                    cells.append(cell_verdict)
                    events.cell_checked.fire(verdict=cell_verdict)

    def _note(self, message: str) -> None:
        self.events.note.fire(message=message)

    def _proxy_url(self) -> str | None:
        """The URL of a proxy the user runs, or None for the embedded one."""
        if self.proxy_client is not None:
            return self.proxy_client.url
        return self.options.proxy_url or self.scenario.proxy.url or os.environ.get("TOXIPROXY_URL")

    def _proxy_shown(self) -> str:
        """How the result names the proxy: its URL, or ``embedded``."""
        return self._proxy_url() or "embedded"

    def _connect_proxy(self, stack: ExitStack, out_dir: Path) -> ProxyApi:
        """The proxy client: the one passed in, one for the user's proxy, or the embedded proxy's."""
        if self.proxy_client is not None:
            return self.proxy_client
        proxy_url = self._proxy_url()
        if proxy_url is not None:
            return stack.enter_context(ProxyClient(proxy_url))
        # a master's remote workers send their load to the cells' proxies on this machine
        embedded = EmbeddedProxy.start(out_dir / "proxy.log", allow_remote=self.options.master)
        return stack.enter_context(ProxyClient(stack.enter_context(embedded).url))


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a run after everything it started was stopped; ``result`` is the partial
    run (finished cells, the rest ``interrupted``) whose reports the listeners wrote."""

    def __init__(self, result: RunResult) -> None:
        super().__init__()
        self.result = result


def result_of(
    scenario: Scenario,
    record: RunRecord,
    out_dir: Path,
    cells: list[CellVerdict],
    *,
    duration_s: float,
    interrupted: bool,
) -> RunResult:
    """The run's result from its checked ``cells``; every cell of the record without one is unfinished.

    The gates are the scenario's; a listener may add more (``run_checked``). ``harness report`` makes
    the same result from a run folder's evidence.
    """
    checked = {(cell.variant, cell.fault): cell for cell in cells}
    verdict = RunVerdict(
        cells=tuple(
            checked.get((variant, fault)) or CellVerdict.unfinished(variant, fault)
            for fault in record.faults
            for variant in scenario.target.variants
        )
    )
    return RunResult(
        run_id=record.run_id,
        scenario_name=scenario.name,
        scenario_path=record.scenario_path,
        description=scenario.description,
        seed=record.seed,
        runtime=record.runtime,
        proxy=record.proxy,
        started_at=record.started_at,
        duration_s=duration_s,
        verdict=verdict,
        gates=evaluate_gates(scenario.gates, verdict),
        out_dir=out_dir,
        variants=scenario.target.variants,
        faults=record.faults,
        interrupted=interrupted,
    )


def run_scenario(
    scenario: Scenario,
    scenario_path: str,
    options: RunOptions = RunOptions(),
    events: RunEvents | None = None,
) -> RunResult:
    """Run every cell of ``scenario`` with the real seams and return the result (no report is written)."""
    return Run(scenario=scenario, scenario_path=scenario_path, options=options, events=events).run()


class ScenarioProbes:
    """The default :class:`~harness.seams.ProbeFactory`: the probe the scenario's ``target.effects`` names."""

    def __init__(self, scenario: Scenario, services: ServiceSet | None) -> None:
        self.spec = scenario.target.effects
        self.services = services

    def __call__(self, variant: str, fault: str, base_url: str, data_dir: Path) -> EffectsProbe:
        spec = self.spec
        if spec.source == "smtp":
            assert self.services is not None  # the scenario model requires smtp among services
            url = self.services.smtp_effects_url(_RunContext.cell_id(variant, fault))
            return HttpLedgerProbe(url, op_ref_field=spec.op_ref_field, id_field=spec.id_field)
        return probe_for(spec, base_url, data_dir, variant)


def _start_services(
    scenario: Scenario, out_dir: Path, registry: PidRegistry, note: Callable[[str], None], stack: ExitStack
) -> ServiceSet | None:
    if not scenario.target.services:
        return None
    services = stack.enter_context(
        ServiceSet.start(
            scenario.target.services,
            out_dir,
            registry,
            progress=note,
            optional=OPTIONAL_SERVICES,
        )
    )
    for name, why in services.left_out.items():
        note(f"{name} left out ({why}); the target falls back to its embedded stand-in")
    return services


def _fresh_run_dir(out_root: Path, run_id: str) -> Path:
    out_dir = out_root / run_id
    suffix = 1
    while out_dir.exists():  # two runs in one second
        suffix += 1
        out_dir = out_root / f"{run_id}-{suffix}"
    out_dir.mkdir(parents=True)
    latest = out_root / "latest"
    if latest.is_symlink() or not latest.exists():
        latest.unlink(missing_ok=True)
        latest.symlink_to(out_dir.name)
    return out_dir


def _pick_runtime(
    scenario: Scenario, options: RunOptions, registry: PidRegistry, note: Callable[[str], None], run_id: str
) -> Runtime:
    return select_runtime(
        options.runtime or scenario.runtime,
        start_timeout_s=scenario.target.start_timeout_s,
        registry=registry,
        run_id=run_id,
        note=note,
    )


def _require_http_toxics(client: ProxyApi, plans: list[FaultPlan]) -> None:
    wanted = sorted(frozenset().union(*(plan.http_toxics for plan in plans)))
    if wanted and not client.supports_http_toxics():
        raise HarnessError(
            f"the fault proxy at {client.url} has no HTTP-aware toxics ({', '.join(wanted)}); "
            "these are ours, not Toxiproxy's: use the embedded proxy (no --proxy-url)"
        )


def cell_id(variant: str, fault: str) -> str:
    """A cell's name in the run folder (``cells/<id>``) and the stores' per-cell names."""
    return f"{variant}--{fault}"


def cell_dir(out_dir: Path, variant: str, fault: str) -> Path:
    """Where one cell's evidence lives in the run folder."""
    return out_dir / "cells" / cell_id(variant, fault)


@dataclass(frozen=True)
class _RunContext:
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

    @staticmethod
    def cell_id(variant: str, fault: str) -> str:
        return cell_id(variant, fault)


def check_cell(
    scenario: Scenario, plan: FaultPlan, variant: str, folder: Path, effects: list[Effect]
) -> CellVerdict:
    """Check one cell's evidence: its history files (the client's, each Locust worker's, the faults')
    against ``effects``. A run does it as each cell ends, ``harness report`` from a run folder."""
    # history.<worker>.jsonl: one per Locust worker, written there or shipped (harness.load.distributed)
    client_histories = [folder / CLIENT_HISTORY, *worker_histories(folder)]
    events = read_history([*client_histories, folder / FAULT_HISTORY])
    acknowledged = sum(isinstance(e, OpEnd) and e.outcome == "acknowledged" for e in events)
    require_effects(effects, acknowledged, scenario.target.effects.source)
    expect = cell_expectations(scenario, plan, variant)
    return check_safe(events, effects, variant=variant, fault=plan.fault, expect=expect)


def cell_expectations(scenario: Scenario, plan: FaultPlan, variant: str) -> CellExpectations:
    """What a cell's fault was meant to do, for the checkers' guards (exposure, acknowledged)."""
    spec = scenario.faults[plan.fault]
    load_double_submit = scenario.load.double_submit
    return CellExpectations(
        fault_acts=spec.acts(load_double_submit),
        min_exposed=spec.exposure_needed(load_double_submit),
        min_acknowledged_rate=scenario.target.variant(variant).min_acknowledged_rate,
        per_request_toxics=frozenset(
            toxic.proxy_name for toxic in spec.toxics if toxic.type in plan.http_toxics
        ),
    )


class _CellRun:
    """One variant under one fault: start, fault, load, probe, check, and clean up."""

    def __init__(self, context: _RunContext, plan: FaultPlan, variant: str) -> None:
        self.context = context
        self.scenario = context.scenario
        self.plan = plan
        self.variant = variant
        self.cell_id = context.cell_id(variant, plan.fault)
        self.dir = cell_dir(context.out_dir, variant, plan.fault)
        self.client = context.client
        self.proxy_name = f"{self.scenario.name}-{self.cell_id}"

    def run(self) -> CellVerdict:
        load = self.scenario.load
        operations = self.context.options.operations or load.operations
        self.context.events.cell_started.fire(
            variant=self.variant, fault=self.plan.fault, operations=operations
        )
        with ExitStack() as stack:
            faults_history = stack.enter_context(HistoryWriter(self.dir / FAULT_HISTORY))
            # closed in reverse: the proxy entries go first, while the proxy answers, then the target
            targets = stack.enter_context(ExitStack())
            entries = stack.enter_context(ExitStack())
            env, store_toxics = self._target_env(entries)
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
            nemesis = self.context.nemesis(
                self.plan, self.client, self.proxy_name, target, faults_history, store_toxics, self._fault
            )
            with nemesis:
                self.context.load_driver(
                    config,
                    self.dir / "load.json",
                    on_progress=self._progress,
                    timeout_s=load.max_duration_s + 60,
                    distribution=self._distribution(),
                    link=nemesis.load,
                )
                # still supervised: a queue-backed target can crash on its backlog while it drains
                self._settle(target.endpoint.base_url)
            effects = self._probe(target.endpoint.base_url)
        return check_cell(self.scenario, self.plan, self.variant, self.dir, effects)

    def _progress(self, completed: int, total: int) -> None:
        self.context.events.cell_progress.fire(completed=completed, total=total)

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
        env = {**self.scenario.target.env, **self.plan.target_env}
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

    def _probe(self, base_url: str) -> list[Effect]:
        probe = self.context.effects_probe(self.variant, self.plan.fault, base_url, self.dir / "data")
        effects = probe.read()
        (self.dir / EFFECTS_FILE).write_text(json.dumps([asdict(e) for e in effects], indent=1))
        return effects


STILL_STOPPING = "still stopping what the run started (if it hangs: kill -9 it, then `harness clean`)\n"


@contextmanager
def interrupts_once() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C, and only the first of them does.

    A CI runner's stop cleans up as Ctrl-C does; a second Ctrl-C or SIGTERM while the run tears down
    (an impatient user, a runner that signals twice) only says it is still stopping, instead of
    cutting the teardown short and leaving a target, a store or the proxy behind.
    """
    import signal

    def _later(signum: int, frame: object) -> None:
        sys.stderr.write(STILL_STOPPING)

    def _first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, _later)
        signal.signal(signal.SIGTERM, _later)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, _first) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
