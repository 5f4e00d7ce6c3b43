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
last. With ``parallel_cells`` above 1 the cells run on threads of their own, and a Ctrl-C (or a cell's
error) interrupts each running cell in its thread and waits for its clean-up before the stores and the
proxy go. An interrupted run then still reports the cells that finished (:class:`RunInterrupted`), and
``run-record.json`` lets ``harness report`` remake the reports from the run folder alone.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from harness.cell import (
    CLIENT_HISTORY,
    EFFECTS_FILE,
    FAULT_HISTORY,
    CellContext,
    CellRun,
    ScenarioProbes,
    cell_dir,
    check_cell,
)
from harness.cell_threads import run_at_once
from harness.errors import HarnessError
from harness.events import RunEvents
from harness.faults import FaultPlan, plan_fault
from harness.gate import evaluate_gates
from harness.interrupts import STILL_STOPPING, interrupts_once
from harness.load.config import driver_env, run_driver
from harness.load.forked import drivers_forked
from harness.nemesis import Nemesis
from harness.pidfiles import PidRegistry
from harness.proxy.client import ProxyClient
from harness.proxy.embedded import EmbeddedProxy
from harness.report.record import RunRecord
from harness.result import GateResult, RunResult
from harness.run_options import DEFAULT_OPTIONS, RunOptions
from harness.runtime.base import Runtime
from harness.runtime.process import ProcessRuntime
from harness.runtime.select import select_runtime
from harness.scenario import Scenario
from harness.seams import LoadDriver, NemesisFactory, ProbeFactory, ProxyApi
from harness.services import ServiceSet
from harness.verdict import CellVerdict, RunVerdict

__all__ = [
    "CLIENT_HISTORY",
    "EFFECTS_FILE",
    "FAULT_HISTORY",
    "STILL_STOPPING",
    "Run",
    "RunInterrupted",
    "RunOptions",
    "ScenarioProbes",
    "cell_dir",
    "check_cell",
    "interrupts_once",
    "new_run_id",
    "result_of",
    "run_scenario",
]

# A machine without a RabbitMQ broker still runs the consumer scenario, on the target's embedded queue.
OPTIONAL_SERVICES = ("rabbitmq",)


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
        options: RunOptions = DEFAULT_OPTIONS,
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
        """Every cell, up to ``parallel_cells`` at once, each verdict appended to ``cells`` as it is
        checked (the result puts them back in scenario order). One at a time they start in scenario
        order; at once, the cells that crash their target start first (in scenario order among them).

        Torn down in order, whatever ends it: each cell deletes its proxy entries (the proxy still
        alive: it is in its own session, out of reach of a terminal's Ctrl-C), then stops its target;
        then the stores stop, and the proxy last. Cells on threads of their own are each interrupted
        and waited for first (:mod:`harness.cell_threads`).
        """
        scenario, events = self.scenario, self.events
        with ExitStack() as stack:
            if self.load_driver is run_driver and not self.options.master:  # Locust imported once per run
                stack.enter_context(drivers_forked(driver_env(), registry, out_dir / "load-forks.log"))
            reference = scenario.target.name if scenario.target.kind == "reference" else None
            if isinstance(runtime, ProcessRuntime) and reference is not None:  # its imports under way now
                stack.enter_context(runtime.fork_server_started(
                    reference, scenario.target.env, out_dir / "target-forks.log"))  # fmt: skip
            client = self._connect_proxy(stack, out_dir)
            client.version()  # fail early, naming the URL, if nothing answers there
            _require_http_toxics(client, plans)
            services = _start_services(scenario, out_dir, registry, self._note, stack)
            context = CellContext(
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
            runs = [CellRun(context, plan, variant) for plan in plans for variant in scenario.target.variants]
            if services is not None:
                services.prepare(cell_run.cell_id for cell_run in runs)

            def checked(cell_verdict: CellVerdict) -> None:
                cells.append(cell_verdict)
                events.cell_checked.fire(verdict=cell_verdict)

            limit = self._parallel_cells()
            if limit == 1:  # in this thread, as ever: nothing to stop but what a Ctrl-C here unwinds
                for cell_run in runs:
                    checked(cell_run.run())
            else:  # the longest cells first, so none of them starts last and makes the run wait
                longest_first = sorted(runs, key=lambda cell_run: not cell_run.plan.crashes_target)
                run_at_once([cell_run.run for cell_run in longest_first], limit, checked)

    def _parallel_cells(self) -> int:
        """How many cells run at once: ``--parallel``, else the scenario's ``parallel_cells``; one with
        ``--master``, whose workers on other machines serve one cell after another."""
        wanted = self.options.parallel_cells or self.scenario.parallel_cells
        if wanted > 1 and self.options.master:
            self._note(f"--master: cells run one at a time, not {wanted}; remote workers serve them in turn")
            return 1
        return wanted

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
    options: RunOptions = DEFAULT_OPTIONS,
    events: RunEvents | None = None,
) -> RunResult:
    """Run every cell of ``scenario`` with the real seams and return the result (no report is written)."""
    return Run(scenario=scenario, scenario_path=scenario_path, options=options, events=events).run()


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
