"""One run of a scenario: every variant × fault cell, then the verdict, the gates and the reports.

This module owns clean-up: the proxy, every target process and every proxy entry live in one
``ExitStack``, so a run that ends, fails or is interrupted (Ctrl-C, SIGTERM) leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from harness.checker import check_safe
from harness.effects import Effect, HttpLedgerProbe
from harness.errors import HarnessError
from harness.faults import HTTP_TOXICS, FaultPlan, plan_fault
from harness.gate import evaluate_gates
from harness.history import HistoryWriter, read_history
from harness.load.config import LoadCellConfig, run_driver
from harness.nemesis import Nemesis
from harness.pidfiles import PidRegistry
from harness.proxy.client import ProxyClient
from harness.proxy.embedded import EmbeddedProxy
from harness.result import RunResult
from harness.runtime.process import ProcessRuntime
from harness.scenario import FaultSpec, Scenario
from harness.verdict import CellVerdict, RunVerdict

CLIENT_HISTORY = "history.jsonl"
FAULT_HISTORY = "faults.jsonl"


class RunObserver(Protocol):
    """What the run tells whoever shows progress (the CLI's rich display, or nothing in tests)."""

    def cell_started(self, variant: str, fault: str, operations: int) -> None: ...

    def cell_progress(self, completed: int, total: int) -> None: ...

    def cell_finished(self, verdict: CellVerdict) -> None: ...

    def note(self, message: str) -> None: ...


class SilentObserver:
    """An observer that shows nothing."""

    def cell_started(self, variant: str, fault: str, operations: int) -> None:
        pass

    def cell_progress(self, completed: int, total: int) -> None:
        pass

    def cell_finished(self, verdict: CellVerdict) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class RunOptions:
    """Overrides a user gives on the command line; ``None`` keeps the scenario's own value."""

    out_root: Path = Path("reports")
    runtime: str | None = None
    proxy_url: str | None = None
    seed: int | None = None
    operations: int | None = None
    faults: tuple[str, ...] = ()  # run only these faults of the scenario (all when empty)


def new_run_id(scenario: Scenario, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{scenario.name}"


def run_scenario(
    scenario: Scenario,
    scenario_path: str,
    options: RunOptions = RunOptions(),
    observer: RunObserver | None = None,
) -> RunResult:
    """Run every cell of ``scenario`` and return the result; reports are written by the caller."""
    observer = observer or SilentObserver()
    seed = scenario.seed if options.seed is None else options.seed
    plans = [plan_fault(name, spec, seed) for name, spec in _chosen_faults(scenario, options)]
    run_id = new_run_id(scenario)
    out_dir = _fresh_run_dir(options.out_root, run_id)
    runtime = _pick_runtime(scenario, options, options.out_root, observer)
    proxy_url = options.proxy_url or scenario.proxy.url or os.environ.get("TOXIPROXY_URL")
    started_at = time.time()
    cells: list[CellVerdict] = []
    with ExitStack() as stack:
        if proxy_url is None:
            proxy_url = stack.enter_context(EmbeddedProxy.start(out_dir / "proxy.log")).url
            proxy_shown = "embedded"
        else:
            proxy_shown = proxy_url
        client = ProxyClient(proxy_url)
        client.version()  # fail early, naming the URL, if nothing answers there
        _require_http_toxics(client, plans)
        for plan in plans:
            for variant in scenario.target.variants:
                cell = _CellRun(scenario, options, plan, variant, out_dir, runtime, client, observer)
                cell_verdict = cell.run()
                cells.append(cell_verdict)
                observer.cell_finished(cell_verdict)
    verdict = RunVerdict(cells=tuple(cells))
    return RunResult(
        run_id=run_id,
        scenario_name=scenario.name,
        scenario_path=scenario_path,
        description=scenario.description,
        seed=seed,
        runtime=runtime.name,
        proxy=proxy_shown,
        started_at=started_at,
        duration_s=round(time.time() - started_at, 3),
        verdict=verdict,
        gates=evaluate_gates(scenario.gates, verdict),
        out_dir=out_dir,
        variants=scenario.target.variants,
        faults=tuple(plan.fault for plan in plans),
    )


def _chosen_faults(scenario: Scenario, options: RunOptions) -> list[tuple[str, FaultSpec]]:
    unknown = [name for name in options.faults if name not in scenario.faults]
    if unknown:
        raise HarnessError(
            f"--fault {unknown[0]}: no such fault in scenario {scenario.name!r} "
            f"(faults: {', '.join(scenario.faults)})"
        )
    return [(n, spec) for n, spec in scenario.faults.items() if not options.faults or n in options.faults]


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
    scenario: Scenario, options: RunOptions, out_root: Path, observer: RunObserver
) -> ProcessRuntime:
    wanted = options.runtime or scenario.runtime
    if wanted == "docker":
        raise HarnessError(
            "runtime 'docker' is not available in this version; use --runtime process (or auto)"
        )
    if wanted == "auto":
        observer.note("runtime auto: using process (the Docker runtime is not built yet)")
    registry = PidRegistry(out_root / ".pids")
    return ProcessRuntime(start_timeout_s=scenario.target.start_timeout_s, registry=registry)


def _require_http_toxics(client: ProxyClient, plans: list[FaultPlan]) -> None:
    wanted = sorted({t.type for plan in plans for t in plan.toxics if t.type in HTTP_TOXICS})
    if wanted and not client.supports_http_toxics():
        raise HarnessError(
            f"the fault proxy at {client.url} has no HTTP-aware toxics ({', '.join(wanted)}); "
            "these are ours, not Toxiproxy's: use the embedded proxy (no --proxy-url)"
        )


class _CellRun:
    """One variant under one fault: start, fault, load, probe, check, and clean up."""

    def __init__(
        self,
        scenario: Scenario,
        options: RunOptions,
        plan: FaultPlan,
        variant: str,
        out_dir: Path,
        runtime: ProcessRuntime,
        client: ProxyClient,
        observer: RunObserver,
    ) -> None:
        self.scenario = scenario
        self.options = options
        self.plan = plan
        self.variant = variant
        self.dir = out_dir / "cells" / f"{variant}--{plan.fault}"
        self.runtime = runtime
        self.client = client
        self.observer = observer
        self.proxy_name = f"{scenario.name}-{variant}-{plan.fault}"

    def run(self) -> CellVerdict:
        load = self.scenario.load
        operations = self.options.operations or load.operations
        self.observer.cell_started(self.variant, self.plan.fault, operations)
        with ExitStack() as stack:
            target = self.runtime.start(
                self.scenario.target.name,
                self.variant,
                data_dir=self.dir / "data",
                log_path=self.dir / "target.log",
                env=self.plan.target_env,
            )
            stack.callback(target.stop)
            proxy = self.client.create_proxy(self.proxy_name, upstream=target.endpoint.hostport)
            stack.callback(self._delete_proxy)
            faults_history = stack.enter_context(HistoryWriter(self.dir / FAULT_HISTORY))
            config = LoadCellConfig(
                base_url=f"http://{proxy.listen_host}:{proxy.listen_port}",
                path=self.scenario.target.operations[0].path,
                variant=self.variant,
                fault=self.plan.fault,
                seed=self.plan.seed,
                operations=operations,
                users=load.users,
                spawn_rate=load.spawn_rate,
                max_duration_s=load.max_duration_s,
                retry=load.retry,
                send_idempotency_key=load.send_idempotency_key,
                amount_min=load.amount_min,
                amount_max=load.amount_max,
                history_path=str(self.dir / CLIENT_HISTORY),
                op_id_prefix=f"{self.variant[:3]}-{self.plan.fault[:12]}-",
            )
            with Nemesis(self.plan, self.client, self.proxy_name, target, faults_history):
                run_driver(
                    config,
                    self.dir / "load.json",
                    on_progress=self.observer.cell_progress,
                    timeout_s=load.max_duration_s + 60,
                )
            effects = self._probe(target.endpoint.base_url)
        events = read_history([self.dir / CLIENT_HISTORY, self.dir / FAULT_HISTORY])
        return check_safe(events, effects, variant=self.variant, fault=self.plan.fault)

    def _probe(self, base_url: str) -> list[Effect]:
        spec = self.scenario.target.effects
        probe = HttpLedgerProbe(
            f"{base_url}{spec.path}", op_ref_field=spec.op_ref_field, id_field=spec.id_field
        )
        effects = probe.read()
        (self.dir / "effects.json").write_text(json.dumps([asdict(e) for e in effects], indent=1))
        return effects

    def _delete_proxy(self) -> None:
        # the proxy process may already be gone on an interrupted run
        with suppress(HarnessError):
            self.client.delete_proxy(self.proxy_name)


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so a CI runner's stop cleans up like Ctrl-C does."""
    import signal

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
