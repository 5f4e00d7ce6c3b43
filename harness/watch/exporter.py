"""``/metrics`` of ``harness watch``: the latest snapshot as Prometheus series, on loopback only.

A custom collector renders the snapshot at each scrape rather than keeping gauges up to date: the
worst offenders change from poll to poll, and a gauge per operation would keep exporting an operation
that is no longer among the worst. The registry is the exporter's own (never the process-global one),
so nothing else in the process leaks into it. Series names come from :mod:`harness.metric_names`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from harness import metric_names as names
from harness.errors import PortInUseError
from harness.metrics_http import RegistryEndpoint
from harness.ports import LOOPBACK, is_port_free
from harness.watch.state import LedgerStatus, WatchSnapshot
from harness.watch.windows import WindowStats

_WINDOW_GAUGES: tuple[tuple[str, str, Callable[[WindowStats], float | None]], ...] = (
    (names.WATCH_EFFECTS, "effects of the window's operations", lambda w: w.effects),
    (names.WATCH_OPERATIONS, "operations whose first effect is in the window", lambda w: w.operations),
    (names.WATCH_DUPLICATED_OPERATIONS, "operations of the window with more than one effect",
     lambda w: w.duplicated_operations),
    (names.WATCH_DUPLICATE_EFFECTS, "effects beyond each operation's first", lambda w: w.duplicate_effects),
    (names.WATCH_DUPLICATE_RATE, "duplicated operations / operations", lambda w: w.duplicate_rate),
    (names.WATCH_DUPLICATE_RATE_LOWER, "95% Wilson lower bound of the duplicate rate",
     lambda w: w.duplicate_rate_lower),
    (names.WATCH_DUPLICATE_RATE_UPPER, "95% Wilson upper bound of the duplicate rate",
     lambda w: w.duplicate_rate_upper),
    (names.WATCH_REPLAYS, "idempotency-key replays the service reported", lambda w: w.replays),
    (names.WATCH_REPLAY_RATE, "replays / operations", lambda w: w.replay_rate),
)


class WatchCollector(Collector):
    """Yields the series of whatever ``snapshot()`` returns at scrape time."""

    def __init__(self, snapshot: Callable[[], WatchSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        ledgers = self._snapshot().ledgers
        yield from _window_families(ledgers)
        yield _ledger_gauge(names.WATCH_PROBE_UP, "1 when the last poll read the ledger",
                            ledgers, lambda s: float(bool(s.up)))
        yield _ledger_gauge(names.WATCH_LAST_SUCCESS, "Unix time of the last poll that read the ledger",
                            [s for s in ledgers if s.last_success is not None],
                            lambda s: s.last_success or 0.0)
        errors = CounterMetricFamily(
            names.WATCH_PROBE_ERRORS, "polls that failed to read the ledger", labels=names.WATCH_LEDGER_LABELS
        )
        polls = CounterMetricFamily(names.WATCH_POLLS, "polls made", labels=names.WATCH_LEDGER_LABELS)
        for status in ledgers:
            errors.add_metric([status.name], status.errors)
            polls.add_metric([status.name], status.polls)
        yield errors
        yield polls


def _window_families(ledgers: tuple[LedgerStatus, ...]) -> Iterator[GaugeMetricFamily]:
    for name, documentation, value in _WINDOW_GAUGES:
        family = GaugeMetricFamily(name, documentation, labels=names.WATCH_WINDOW_LABELS)
        for status in ledgers:
            for window in status.windows:
                number = value(window)
                if number is not None:
                    family.add_metric([status.name, window.window], float(number))
        yield family
    worst = GaugeMetricFamily(
        names.WATCH_WORST_OFFENDER_EFFECTS, "effects of the window's worst operations",
        labels=(*names.WATCH_WINDOW_LABELS, "operation"),
    )
    for status in ledgers:
        for window in status.windows:
            for offender in window.worst:
                worst.add_metric([status.name, window.window, offender.operation], offender.effects)
    yield worst


def _ledger_gauge(
    name: str, documentation: str, ledgers: Any, value: Callable[[LedgerStatus], float]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=names.WATCH_LEDGER_LABELS)
    for status in ledgers:
        family.add_metric([status.name], value(status))
    return family


class MetricsServer:
    """Serves the collector on ``127.0.0.1:port`` from a daemon thread until :meth:`close`."""

    def __init__(self, port: int, snapshot: Callable[[], WatchSnapshot]) -> None:
        if not is_port_free(port):
            raise PortInUseError(LOOPBACK, port, "--metrics-port")
        registry = CollectorRegistry(auto_describe=False)
        registry.register(WatchCollector(snapshot))
        try:
            self._endpoint = RegistryEndpoint(port, registry)
        except OSError:
            raise PortInUseError(LOOPBACK, port, "--metrics-port") from None
        self.port = port

    def close(self) -> None:
        self._endpoint.close()
