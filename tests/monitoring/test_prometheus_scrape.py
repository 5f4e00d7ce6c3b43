"""End to end through a real Prometheus: it scrapes an exporter of harness series and evaluates
examples/monitoring/rules.yml on what it scraped.

The exporter here is prometheus_client in the test process with values the test sets, which proves the
fixture, the series names (counters gain ``_total``) and the rules' label matching on real scrapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_server import ScrapeTarget, StartPrometheus, values

from harness import metric_names
from harness.ports import LOOPBACK, join_hostport

RULES = Path(__file__).resolve().parents[2] / "examples" / "monitoring" / "rules.yml"
JOB = "watch"


class Exporter:
    """harness_watch_* series with values a test sets, served on a loopback port like ``harness watch``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.duplicate_rate = Gauge(
            metric_names.WATCH_DUPLICATE_RATE, "duplicate rate", metric_names.WATCH_WINDOW_LABELS,
            registry=self.registry,
        )
        self.duplicated_operations = Gauge(
            metric_names.WATCH_DUPLICATED_OPERATIONS, "duplicated operations",
            metric_names.WATCH_WINDOW_LABELS, registry=self.registry,
        )
        self.probe_up = Gauge(
            metric_names.WATCH_PROBE_UP, "probe up", metric_names.WATCH_LEDGER_LABELS, registry=self.registry
        )
        self.polls = Counter(
            metric_names.WATCH_POLLS, "polls", metric_names.WATCH_LEDGER_LABELS, registry=self.registry
        )
        self._server, self._thread = start_http_server(0, addr=LOOPBACK, registry=self.registry)
        self.target = ScrapeTarget(JOB, join_hostport(LOOPBACK, self._server.server_port))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        assert not self._thread.is_alive()


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    serving = Exporter()
    try:
        yield serving
    finally:
        serving.close()


def test_prometheus_scrapes_the_seeded_series_and_follows_their_changes(
    prometheus: StartPrometheus, exporter: Exporter
) -> None:
    exporter.duplicate_rate.labels(ledger="payments", window="5m").set(0.25)
    exporter.polls.labels(ledger="payments").inc(3)
    server = prometheus(targets=[exporter.target])

    rate = f'{metric_names.WATCH_DUPLICATE_RATE}{{ledger="payments", window="5m"}}'
    [sample] = server.wait_for(rate, lambda result: values(result) == [0.25])
    assert sample["metric"]["job"] == JOB
    assert sample["metric"]["instance"] == exporter.target.address
    assert values(server.query(f"{metric_names.WATCH_POLLS}_total")) == [3.0]

    exporter.duplicate_rate.labels(ledger="payments", window="5m").set(0.5)
    server.wait_for(rate, lambda result: values(result) == [0.5])


def test_the_example_rules_match_scraped_series_and_leave_healthy_ledgers_alone(
    prometheus: StartPrometheus, exporter: Exporter
) -> None:
    exporter.probe_up.labels(ledger="payments").set(0)
    exporter.probe_up.labels(ledger="refunds").set(1)
    exporter.duplicated_operations.labels(ledger="payments", window="1h").set(0)
    exporter.duplicated_operations.labels(ledger="refunds", window="1h").set(2)
    exporter.duplicated_operations.labels(ledger="refunds", window="5m").set(0)
    server = prometheus(targets=[exporter.target], rule_files=[RULES])

    # The rules hold for minutes before they fire; pending is what a real server shows within seconds.
    # Each rule's evaluation covers every ledger at once, so one pending ledger means the other is quiet.
    probe = server.wait_for('ALERTS{alertname="HarnessWatchProbeDown"}', bool)
    assert [sample["metric"]["ledger"] for sample in probe] == ["payments"]
    assert probe[0]["metric"]["alertstate"] == "pending"

    duplicates = server.wait_for('ALERTS{alertname="IdempotencyDuplicatesSeen"}', bool)
    assert [(s["metric"]["ledger"], s["metric"]["window"]) for s in duplicates] == [("refunds", "1h")]
    assert server.query('ALERTS{alertname="HarnessWatchAbsent"}') == []
