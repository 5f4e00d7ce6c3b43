"""Live metrics of a run: the ``harness_run_*`` series on ``127.0.0.1:PORT/metrics`` while it goes.

``harness run --metrics-port PORT`` opens a :class:`MetricsServer` before anything starts (a port that
cannot be bound is a one-line error, exit 2) and closes it when the run ends, so the port is free again
once the command returns. The server has a registry of its own, never prometheus_client's global one: a
run inside a test or another program exports only its own series, and two runs in one process never
clash.

:class:`LiveMetrics` is the listener that feeds it. Each cell is one label set (scenario, variant,
fault), so cells that run at once never mix; its numbers are the last :class:`~harness.tally.CellTally`
the ``cell_tally`` hook brought (a look while the load runs, then the checked counts at the cell's
end, which run.json keeps too), and its crashes are counted as the nemesis records them. The series
are made from those numbers at each scrape by a custom collector: the counts come whole from a look at
the history, not one increment at a time, and a look's counts only grow (:mod:`harness.tally`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from harness.errors import HarnessError
from harness.events import RunEvents
from harness.history import CrashEvent, FaultEvent, RestartEvent
from harness.metric_names import (
    RUN_ATTEMPTS,
    RUN_CELL_RUNNING,
    RUN_CRASHES,
    RUN_DUPLICATE_EFFECTS,
    RUN_DUPLICATE_RATE,
    RUN_DUPLICATED_OPERATIONS,
    RUN_EXPOSED_OPERATIONS,
    RUN_LABELS,
    RUN_OPERATIONS,
    RUN_RETRIES,
)
from harness.metrics_http import RegistryEndpoint
from harness.ports import LOOPBACK
from harness.tally import OPERATION_OUTCOMES, CellTally

if TYPE_CHECKING:

    from harness.result import RunResult
    from harness.scenario import Scenario

CellLabels = tuple[str, str, str]
"""(scenario, variant, fault): one cell's label values, in :data:`~harness.metric_names.RUN_LABELS` order."""


@dataclass
class _Cell:
    tally: CellTally = field(default_factory=CellTally)
    crashes: int = 0
    running: bool = True


class RunCollector:
    """The ``harness_run_*`` series of every cell heard so far, made at each scrape.

    Written from the run's threads (a cell's, its watch's, a nemesis's), read from the server's: one
    lock keeps a scrape from seeing a cell half updated.
    """

    def __init__(self) -> None:
        self._cells: dict[CellLabels, _Cell] = {}
        self._lock = threading.Lock()

    def start(self, cell: CellLabels) -> None:
        """A cell begins: its series exist from now, at zero, with ``cell_running`` 1."""
        with self._lock:
            self._cells[cell] = _Cell()

    def tally(self, cell: CellLabels, tally: CellTally, *, final: bool) -> None:
        """The cell's counts now; ``final``: its checked counts, the cell has ended."""
        with self._lock:
            state = self._cells.setdefault(cell, _Cell())
            state.tally = tally
            if final:
                state.running = False
                state.crashes = max(state.crashes, tally.crashes)

    def crash(self, cell: CellLabels) -> None:
        """The nemesis recorded a crash of the cell's target."""
        with self._lock:
            self._cells.setdefault(cell, _Cell()).crashes += 1

    def stop(self, scenario: str) -> None:
        """The run of ``scenario`` ended: none of its cells runs any more (an interrupted one included)."""
        with self._lock:
            for (name, _, _), state in self._cells.items():
                if name == scenario:
                    state.running = False

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            cells = [
                (labels, _Cell(state.tally, state.crashes, state.running))
                for labels, state in self._cells.items()
            ]
        return iter(_families(cells))


def _families(cells: list[tuple[CellLabels, _Cell]]) -> list[Metric]:
    """Every run series, each with one sample (or one per outcome and status) per cell."""
    labels = list(RUN_LABELS)
    operations = CounterMetricFamily(
        RUN_OPERATIONS, "Operations the load finished, by outcome.", labels=[*labels, "outcome"]
    )
    attempts = CounterMetricFamily(
        RUN_ATTEMPTS,
        "HTTP attempts answered in some way, by outcome and status.",
        labels=[*labels, "outcome", "status"],
    )
    retries = CounterMetricFamily(
        RUN_RETRIES,
        "Attempts sent again, by the outcome and status of the answer retried after.",
        labels=[*labels, "outcome", "status"],
    )
    crashes = CounterMetricFamily(RUN_CRASHES, "Crashes of the target the nemesis recorded.", labels=labels)
    gauges = {
        RUN_DUPLICATE_EFFECTS: "Effects beyond the first per operation, detected so far.",
        RUN_DUPLICATED_OPERATIONS: "Operations that took effect more than once, detected so far.",
        RUN_EXPOSED_OPERATIONS: "Operations the fault hit so far.",
        RUN_DUPLICATE_RATE: "Duplicated operations over operations the fault hit, so far.",
        RUN_CELL_RUNNING: "1 while the cell's load runs, 0 once the cell ended.",
    }
    families = {name: GaugeMetricFamily(name, text, labels=labels) for name, text in gauges.items()}
    for cell, state in cells:
        values = list(cell)
        tally = state.tally
        for outcome in OPERATION_OUTCOMES.values():
            operations.add_metric([*values, outcome], tally.operations.get(outcome, 0))
        _add_by_kind(attempts, values, tally.attempts)
        _add_by_kind(retries, values, tally.retries)
        crashes.add_metric(values, state.crashes)
        numbers = {
            RUN_DUPLICATE_EFFECTS: tally.duplicate_effects,
            RUN_DUPLICATED_OPERATIONS: tally.duplicated_operations,
            RUN_EXPOSED_OPERATIONS: tally.exposed_operations,
            RUN_DUPLICATE_RATE: tally.duplicate_rate,
            RUN_CELL_RUNNING: int(state.running),
        }
        for name, value in numbers.items():
            families[name].add_metric(values, value)
    return [operations, attempts, retries, crashes, *families.values()]


def _add_by_kind(
    family: CounterMetricFamily, values: list[str], counts: Mapping[str, Mapping[str, int]]
) -> None:
    for outcome, statuses in counts.items():
        for status, count in statuses.items():
            family.add_metric([*values, outcome, status], count)


class MetricsServer:
    """The ``/metrics`` endpoint on ``127.0.0.1:port``, for a ``with`` block around the run(s).

    Bound on entry, so a port already taken fails before anything starts; shut down and its socket
    closed on exit, so the port is free once the block ends.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.collector = RunCollector()
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)
        self._endpoint: RegistryEndpoint | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/metrics"

    def __enter__(self) -> MetricsServer:
        try:
            self._endpoint = RegistryEndpoint(self.port, self.registry)
        except OSError as error:
            reason = error.strerror or str(error)
            raise HarnessError(
                f"--metrics-port {self.port}: cannot serve on {LOOPBACK}:{self.port}: {reason}"
            ) from None
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._endpoint is not None:
            self._endpoint.close()
            self._endpoint = None


class LiveMetrics:
    """Feeds one run's events to a :class:`MetricsServer`'s series (a catalogue's runs share one)."""

    def __init__(self, server: MetricsServer) -> None:
        self.collector = server.collector
        self.scenario = ""

    def __repr__(self) -> str:
        return f"LiveMetrics({self.scenario!r})"

    def subscribe(self, events: RunEvents) -> None:
        events.run_started.add_listener(self.run_started)
        events.cell_started.add_listener(self.cell_started)
        events.cell_tally.add_listener(self.cell_tally)
        events.fault.add_listener(self.fault)
        events.run_finished.add_listener(self.run_finished)

    def run_started(self, *, run_id: str, scenario: Scenario, scenario_path: str, out_dir: Path) -> None:
        self.scenario = scenario.name

    def cell_started(self, *, variant: str, fault: str, operations: int) -> None:
        self.collector.start((self.scenario, variant, fault))

    def cell_tally(self, *, variant: str, fault: str, tally: CellTally, final: bool) -> None:
        self.collector.tally((self.scenario, variant, fault), tally, final=final)

    def fault(self, *, variant: str, fault: str, event: FaultEvent | CrashEvent | RestartEvent) -> None:
        if isinstance(event, CrashEvent):
            self.collector.crash((self.scenario, variant, fault))

    def run_finished(self, *, result: RunResult) -> None:
        self.collector.stop(self.scenario)
