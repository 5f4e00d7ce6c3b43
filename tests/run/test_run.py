"""The Run's orchestration on in-memory fakes: no process, no network, no Locust.

A fake runtime (targets that record kill, restart and stop), a fake proxy client (proxies and toxics
recorded), a fake load driver that writes a small hand-made history, and a fake effects probe in which
the naive variant charged op-1 twice. The checker, the nemesis and the report writers are the real ones.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.effects import Effect, EffectsProbe
from harness.errors import LoadError
from harness.events import RunEvents
from harness.gate import BASELINE_GATE
from harness.history import AttemptEnd, AttemptStart, CrashEvent, FaultEvent, HistoryWriter, OpEnd, OpStart
from harness.listeners import BaselineGate, ReportFile, subscribe_listeners
from harness.listeners.markdown import MarkdownSummary, StepSummary
from harness.listeners.reports import TerminalSummary
from harness.load.config import Distribution, LoadCellConfig
from harness.proxy.client import ProxyInfo
from harness.result import RunResult
from harness.run import Run, RunOptions
from harness.runtime.base import Endpoint
from harness.scenario import Scenario, load_scenario

SCENARIO = """
name: fake-payments
seed: 7
target: {name: payments, variants: [naive, idempotent]}
load: {operations: 3}
faults:
  dropped: {toxics: [{type: reset_peer, toxicity: 0.5}]}
gates:
  idempotent: {max_duplicate_rate: 0}
  naive: {min_duplicate_rate: 0.01}
"""

CRASH_SCENARIO = """
name: fake-crash
seed: 7
target: {name: payments, variants: [naive]}
load: {operations: 3}
faults:
  crash: {crashes: {count: 1, first_after_s: 0, min_interval_s: 0.05}}
"""

OPS = ("op-1", "op-2", "op-3")
BOUND_S = 5.0  # the longest a test waits for the nemesis's thread


def scenario_from(text: str, tmp_path: Path) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return load_scenario(path)


class FakeTarget:
    """A target that records what the run and the nemesis did to it."""

    def __init__(self, variant: str, log: list[tuple[str, str]], port: int) -> None:
        self.variant = variant
        self.log = log
        self.endpoint = Endpoint("127.0.0.1", port)
        self.alive = True
        self.restarted = threading.Event()

    def kill(self) -> None:
        self.log.append(("kill", self.variant))
        self.alive = False

    def restart(self) -> float:
        self.log.append(("restart", self.variant))
        self.alive = True
        self.restarted.set()
        return 0.01

    def is_alive(self) -> bool:
        return self.alive

    def exit_code(self) -> int | None:
        return None if self.alive else -9

    def stop(self) -> None:
        self.log.append(("stop", self.variant))
        self.alive = False


class FakeRuntime:
    name = "fake"

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.targets: list[FakeTarget] = []

    def start(
        self, target: str, variant: str, data_dir: Path, log_path: Path, env: dict[str, str]
    ) -> FakeTarget:
        self.log.append(("start", variant))
        started = FakeTarget(variant, self.log, port=9000 + len(self.targets))
        self.targets.append(started)
        return started


class FakeProxyClient:
    """Toxiproxy's API in a dict: live proxies, live toxics, and every call in order."""

    url = "fake://proxy"

    def __init__(self) -> None:
        self.proxies: dict[str, ProxyInfo] = {}
        self.toxics: dict[tuple[str, str], str] = {}
        self.calls: list[tuple[str, str]] = []

    def version(self) -> str:
        return "fake"

    def supports_http_toxics(self) -> bool:
        return True

    def create_proxy(self, name: str, upstream: str, listen: str = "127.0.0.1:0") -> ProxyInfo:
        self.calls.append(("create_proxy", name))
        self.proxies[name] = ProxyInfo(name, "127.0.0.1", 7000 + len(self.proxies), upstream, True)
        return self.proxies[name]

    def delete_proxy(self, name: str) -> None:
        self.calls.append(("delete_proxy", name))
        del self.proxies[name]

    def set_enabled(self, name: str, enabled: bool) -> ProxyInfo:
        self.calls.append(("set_enabled", f"{name}={enabled}"))
        return self.proxies[name]

    def add_toxic(
        self,
        proxy: str,
        type: str,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.calls.append(("add_toxic", f"{proxy}/{name}"))
        self.toxics[(proxy, name or type)] = type

    def remove_toxic(self, proxy: str, name: str) -> None:
        self.calls.append(("remove_toxic", f"{proxy}/{name}"))
        del self.toxics[(proxy, name)]


def write_history(path: Path) -> None:
    """op-1 retried once after a lost response, op-2 and op-3 acknowledged at the first attempt."""
    with HistoryWriter(path) as history:
        t = time.time()
        for op_id in OPS:
            history.append(OpStart(t=t, op_id=op_id))
            attempts = 2 if op_id == "op-1" else 1
            for attempt in range(1, attempts + 1):
                history.append(AttemptStart(t=t, op_id=op_id, attempt=attempt))
                if attempt < attempts:
                    history.append(
                        AttemptEnd(t=t, op_id=op_id, attempt=attempt, outcome="info", error="reset")
                    )
                else:
                    history.append(AttemptEnd(t=t, op_id=op_id, attempt=attempt, outcome="ok", status=201))
            history.append(OpEnd(t=t, op_id=op_id, outcome="acknowledged", attempts=attempts, status=201))


class FakeLoad:
    """Writes the hand-made history for each cell and reports progress; may raise in a chosen cell."""

    def __init__(
        self,
        raise_in: str | None = None,
        error: BaseException | None = None,
        before: Callable[[], None] = lambda: None,
    ) -> None:
        self.raise_in = raise_in
        self.error = error
        self.before = before
        self.cells: list[str] = []

    def __call__(
        self,
        config: LoadCellConfig,
        config_path: Path,
        on_progress: Callable[[int, int], None],
        timeout_s: float,
        distribution: Distribution | None = None,
    ) -> None:
        self.cells.append(config.variant)
        self.before()
        write_history(Path(config.history_path))
        on_progress(1, len(OPS))
        if config.variant == self.raise_in and self.error is not None:
            raise self.error
        on_progress(len(OPS), len(OPS))


class FakeProbe:
    def __init__(self, effects: list[Effect]) -> None:
        self.effects = effects

    def read(self) -> list[Effect]:
        return self.effects


def fake_effects(variant: str, fault: str, base_url: str, data_dir: Path) -> EffectsProbe:
    """Every op took effect once; the naive variant's op-1 twice (its retry charged again)."""
    effects = [Effect(op_ref=op_id, resource_id=f"ch_{op_id}") for op_id in OPS]
    if variant == "naive":
        effects.append(Effect(op_ref="op-1", resource_id="ch_op-1-again"))
    return FakeProbe(effects)


class Recorder:
    """Hears every hook; keeps (hook, payload) in order."""

    def __init__(self, events: RunEvents) -> None:
        self.heard: list[tuple[str, dict[str, Any]]] = []
        for name in ("run_started", "note", "cell_started", "cell_progress", "fault", "cell_checked",
                     "run_checked", "run_finished"):  # fmt: skip
            getattr(events, name).add_listener(self._hearer(name))

    def _hearer(self, name: str) -> Callable[..., None]:
        return lambda **payload: self.heard.append((name, payload))

    def names(self) -> list[str]:
        return [name for name, _ in self.heard]


def fake_run(
    scenario: Scenario, tmp_path: Path, load: FakeLoad | None = None
) -> tuple[Run, FakeRuntime, FakeProxyClient]:
    runtime, proxy = FakeRuntime(), FakeProxyClient()
    run = Run(
        scenario=scenario,
        scenario_path="scenario.yaml",
        options=RunOptions(out_root=tmp_path / "reports"),
        runtime=runtime,
        proxy_client=proxy,
        load_driver=load or FakeLoad(),
        effects_probe=fake_effects,
    )
    return run, runtime, proxy


def assert_all_cleaned_up(runtime: FakeRuntime, proxy: FakeProxyClient) -> None:
    assert proxy.proxies == {} and proxy.toxics == {}
    assert [("stop", t.variant) in runtime.log for t in runtime.targets] == [True] * len(runtime.targets)


def test_events_fire_in_order_with_their_payloads(tmp_path: Path) -> None:
    run, _, _ = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)
    recorder = Recorder(run.events)
    result = run.run()
    cell = ["cell_started", "fault", "cell_progress", "cell_progress", "fault", "cell_checked"]
    assert recorder.names() == ["run_started", *cell, *cell, "run_checked", "run_finished"]
    payloads = [payload for _, payload in recorder.heard]
    assert payloads[0]["run_id"] == result.run_id and payloads[0]["out_dir"] == result.out_dir
    assert payloads[1] == {"variant": "naive", "fault": "dropped", "operations": 3}
    on, off = payloads[2], payloads[5]
    assert (on["variant"], on["fault"], type(on["event"]), on["event"].action) == (
        "naive",
        "dropped",
        FaultEvent,
        "on",
    )
    assert [payloads[3], payloads[4]] == [{"completed": 1, "total": 3}, {"completed": 3, "total": 3}]
    assert off["event"].action == "off"
    assert payloads[6]["verdict"] == result.verdict.cell("naive", "dropped")
    assert payloads[12]["verdict"] == result.verdict.cell("idempotent", "dropped")
    assert payloads[-1] == {"result": result}


def test_verdicts_and_gates_reflect_the_fake_history_and_effects(tmp_path: Path) -> None:
    run, runtime, proxy = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)
    result = run.run()
    naive, idempotent = result.verdict.cell("naive", "dropped"), result.verdict.cell("idempotent", "dropped")
    assert (naive.operations, naive.attempts, naive.retries, naive.ops_with_duplicates) == (3, 4, 1, 1)
    assert [a.op_id for a in naive.anomalies if a.kind == "duplicate_effect"] == ["op-1"]
    assert (idempotent.operations, idempotent.ops_with_duplicates, idempotent.lost_acknowledged) == (3, 0, 0)
    assert [(g.variant, g.passed) for g in result.gates] == [("idempotent", True), ("naive", True)]
    assert (result.runtime, result.proxy) == ("fake", "fake://proxy")
    effects = json.loads((result.out_dir / "cells" / "naive--dropped" / "effects.json").read_text())
    assert [e["op_ref"] for e in effects] == ["op-1", "op-2", "op-3", "op-1"]
    assert_all_cleaned_up(runtime, proxy)
    assert runtime.log == [
        ("start", "naive"),
        ("stop", "naive"),
        ("start", "idempotent"),
        ("stop", "idempotent"),
    ]


@pytest.mark.parametrize("error", [LoadError("the load driver died"), KeyboardInterrupt()])
def test_every_proxy_and_target_is_cleaned_up_when_the_load_fails_mid_cell(
    tmp_path: Path, error: BaseException
) -> None:
    load = FakeLoad(raise_in="idempotent", error=error)
    run, runtime, proxy = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path, load)
    recorder = Recorder(run.events)
    with pytest.raises(type(error)):
        run.run()
    assert load.cells == ["naive", "idempotent"]
    assert_all_cleaned_up(runtime, proxy)
    added = [where for call, where in proxy.calls if call == "add_toxic"]
    assert len(added) == 2 and added == [where for call, where in proxy.calls if call == "remove_toxic"]
    assert recorder.names()[-2:] == ["cell_progress", "fault"]  # the toxic's "off", then nothing more
    assert "run_finished" not in recorder.names()


def test_the_nemesis_tells_each_crash_and_restart_it_records(tmp_path: Path) -> None:
    load = FakeLoad()
    run, runtime, _ = fake_run(scenario_from(CRASH_SCENARIO, tmp_path), tmp_path, load)

    def wait_for_the_restart() -> None:
        assert runtime.targets[-1].restarted.wait(BOUND_S), "the nemesis never restarted the target"

    load.before = wait_for_the_restart
    recorder = Recorder(run.events)
    result = run.run()
    faults = [payload["event"] for name, payload in recorder.heard if name == "fault"]
    assert [type(event).__name__ for event in faults] == ["CrashEvent", "RestartEvent"]
    assert isinstance(faults[0], CrashEvent) and faults[0].reason == "kill"
    assert runtime.log == [("start", "naive"), ("kill", "naive"), ("restart", "naive"), ("stop", "naive")]
    assert result.verdict.cell("naive", "crash").crashes == 1


def test_a_raising_listener_loses_neither_the_result_nor_the_listeners_after_it(tmp_path: Path) -> None:
    run, _, _ = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)

    def broken(**payload: object) -> None:
        raise OSError("disk full")

    run.events.cell_progress.add_listener(broken)
    run.events.run_finished.add_listener(broken)
    recorder = Recorder(run.events)
    result = run.run()
    assert result.verdict.cell("naive", "dropped").ops_with_duplicates == 1
    assert recorder.names()[-1] == "run_finished"
    assert [(f.hook, type(f.error)) for f in run.events.failures] == [("cell_progress", OSError)] * 4 + [
        ("run_finished", OSError)
    ]
    assert "disk full" in str(run.events.failures[-1])


def test_listeners_are_subscribed_in_the_stated_order(tmp_path: Path) -> None:
    baseline = BaselineGate({}, tmp_path / "main.json")
    listeners = subscribe_listeners(
        RunEvents(), console=Console(file=io.StringIO()), baseline=baseline, step_summary=True
    )
    names = [
        repr(listener) if isinstance(listener, ReportFile) else type(listener).__name__
        for listener in listeners
    ]
    assert names == [
        "ReportFile(json)", "ReportFile(html)", "ReportFile(junit)",
        "TerminalSummary", "MarkdownSummary", "BaselineGate", "StepSummary",
    ]  # fmt: skip


def test_run_finished_listeners_are_called_in_the_stated_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[str] = []
    for listener_class in (ReportFile, TerminalSummary, MarkdownSummary, StepSummary):
        original = listener_class.run_finished

        def spy(self: Any, *, result: RunResult, original: Any = original) -> None:
            heard.append(self.name if isinstance(self, ReportFile) else type(self).__name__)
            original(self, result=result)

        monkeypatch.setattr(listener_class, "run_finished", spy)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step.md"))
    run, _, _ = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)
    subscribe_listeners(run.events, console=Console(file=io.StringIO()), step_summary=True)
    run.run()
    assert heard == ["json", "html", "junit", "TerminalSummary", "MarkdownSummary", "StepSummary"]


def test_baseline_gates_are_in_every_report_and_its_section_in_both_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = scenario_from(SCENARIO, tmp_path)
    first, _, _ = fake_run(scenario, tmp_path)
    subscribe_listeners(first.events)
    document = json.loads((first.run().out_dir / "run.json").read_text())
    naive = next(cell for cell in document["verdict"]["cells"] if cell["variant"] == "naive")
    naive["duplicate_rate_interval"]["high"] = -1.0  # any rate now is a rise beyond it
    baseline_path = tmp_path / "main" / "run.json"
    baseline_path.parent.mkdir()
    baseline_path.write_text(json.dumps(document))

    step_summary = tmp_path / "step.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    terminal = io.StringIO()
    console = Console(file=terminal, width=200)
    second, _, _ = fake_run(scenario, tmp_path)
    gate = BaselineGate.load(baseline_path, scenario, console=console)
    subscribe_listeners(second.events, console=console, baseline=gate, step_summary=True)
    result = second.run()
    assert [(g.variant, g.passed) for g in result.gates if g.name == BASELINE_GATE] == [
        ("naive", False),
        ("idempotent", True),
    ]
    written = json.loads((result.out_dir / "run.json").read_text())["gates"]
    assert [g["passed"] for g in written if g["name"] == BASELINE_GATE] == [False, True]
    assert BASELINE_GATE in (result.out_dir / "junit.xml").read_text()
    summary = (result.out_dir / "summary.md").read_text()
    assert summary.startswith("| scenario | variant | fault |") and "against the baseline" in summary
    assert step_summary.read_text() == summary
    shown = terminal.getvalue()
    assert shown.index("Reports:") < shown.index(f"fake-payments against the baseline {baseline_path}")
