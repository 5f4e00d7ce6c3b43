"""In-memory fakes of a Run's seams: a runtime, a proxy client, a load driver, an effects probe.

No process, no network, no Locust: the load writes a small hand-made history (op-1 retried after a
lost response, op-2 and op-3 acknowledged at once) and the probe finds op-1 charged twice for the
naive variant. Shared by the Run's tests and the CLI's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nemesis_fakes import FakeClient

from harness.effects import EffectsProbe
from harness.events import RunEvents
from harness.history import AttemptEnd, AttemptStart, HistoryWriter, OpEnd, OpStart
from harness.ledger import Effect
from harness.load.config import Distribution, LoadCellConfig, ProgressLine
from harness.load.link import LoadLink
from harness.proxy.client import ProxyInfo
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

PARALLEL_SCENARIO = SCENARIO.replace(
    "faults:\n", "parallel_cells: 3\nfaults:\n  slow: {toxics: [{type: http_latency, toxicity: 0.5}]}\n"
)
"""Four cells (naive, idempotent × slow, dropped), three at once."""

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


class FakeProxyClient(FakeClient):
    """Toxiproxy's API in a dict: live proxies and live toxics, beside the nemesis's call log."""

    url = "fake://proxy"

    def __init__(self) -> None:
        super().__init__()
        self.proxies: dict[str, ProxyInfo] = {}
        self.toxics: dict[tuple[str, str], str] = {}

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

    def add_toxic(self, proxy: str, type: str, **options: Any) -> None:
        super().add_toxic(proxy, type, **options)
        self.toxics[(proxy, options.get("name") or type)] = type

    def remove_toxic(self, proxy: str, name: str) -> None:
        super().remove_toxic(proxy, name)
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
        link: LoadLink | None = None,
    ) -> None:
        self.cells.append(config.variant)
        self.before()
        write_history(Path(config.history_path))
        on_progress(1, len(OPS))
        if link is not None:  # an attempt in flight from now on, as a driver's progress line says
            link.observe(ProgressLine(completed=1, total=len(OPS), started=2, first_op_at=time.time()))
        if config.variant == self.raise_in and self.error is not None:
            raise self.error
        if link is not None and link.holds:  # a held load runs until the nemesis has made its crashes
            deadline = time.monotonic() + BOUND_S
            while not link.released and time.monotonic() < deadline:
                time.sleep(0.01)
        on_progress(len(OPS), len(OPS))
        if link is not None:
            link.end()


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
