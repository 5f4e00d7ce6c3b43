"""A real Prometheus scraping the harness's own exporters, as a user's would.

``harness watch`` runs as its console command over a payments charges table seeded with a known number
of duplicated operations; ``harness run --metrics-port`` runs a small real scenario. In both, Prometheus
scrapes the endpoint every second and the test asks Prometheus's HTTP query API, not the exporter, for
the duplicate series: the numbers must be the seeded ones and run.json's. The watch test also loads
``examples/monitoring/rules.yml`` and sees its duplicates alert become pending on the real series.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_server import Sample, ScrapeTarget, StartPrometheus, values

from harness import metric_names as names
from harness.cli import main
from harness.ports import LOOPBACK, free_port, join_hostport
from tests.watch.watching import charges_db, known_ledger, sqlite_watch_file

RULES = Path(__file__).resolve().parents[2] / "examples" / "monitoring" / "rules.yml"
SMALL_SCENARIO = Path(__file__).resolve().parents[1] / "e2e" / "small_payments.yaml"
WATCH_AT_MOST_S = 600
"""The watcher's own bound (``--duration``): the test ends it by SIGTERM long before."""
SEED, OPERATIONS, DUPLICATED = 31, 400, 37


def _one_value(result: list[Sample]) -> float | None:
    found = values(result)
    return found[0] if len(found) == 1 else None


@pytest.fixture
def watched_ledger(tmp_path: Path) -> Iterator[int]:
    """``harness watch`` over a seeded charges table, serving /metrics; yields its port, ends it by
    SIGTERM and checks it exited 0 with its process group gone."""
    seeded = known_ledger(SEED, OPERATIONS, DUPLICATED, time.time(), span_s=240)
    charges_db(tmp_path / "payments.db", seeded.rows)
    config = sqlite_watch_file(tmp_path, 0.5, "[5m, 1h]")
    port = free_port()
    command = [sys.executable, "-m", "harness.cli", "watch", str(config), "--out", str(tmp_path / "out")]
    command += ["--metrics-port", str(port), "--duration", str(WATCH_AT_MOST_S)]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        yield port
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 0, stderr
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_prometheus_scrapes_the_seeded_duplicate_rate_from_harness_watch(
    watched_ledger: int, prometheus: StartPrometheus
) -> None:
    server = prometheus(
        targets=[ScrapeTarget("watch", join_hostport(LOOPBACK, watched_ledger))], rule_files=[RULES]
    )
    hour = '{ledger="payments", window="1h"}'
    expected = DUPLICATED / OPERATIONS

    rate = server.wait_for(
        f"{names.WATCH_DUPLICATE_RATE}{hour}", lambda result: _one_value(result) is not None
    )
    assert _one_value(rate) == pytest.approx(expected, abs=1e-12)
    assert values(server.query(f"{names.WATCH_OPERATIONS}{hour}")) == [OPERATIONS]
    assert values(server.query(f"{names.WATCH_DUPLICATED_OPERATIONS}{hour}")) == [DUPLICATED]
    (lower,) = values(server.query(f"{names.WATCH_DUPLICATE_RATE_LOWER}{hour}"))
    (upper,) = values(server.query(f"{names.WATCH_DUPLICATE_RATE_UPPER}{hour}"))
    assert 0 < lower < expected < upper < 1
    assert values(server.query(f'{names.WATCH_PROBE_UP}{{ledger="payments"}}')) == [1]
    server.wait_for(
        'ALERTS{alertname="IdempotencyDuplicatesSeen", ledger="payments", window="1h"}',
        lambda result: len(result) == 1,
    )


def test_prometheus_scrapes_a_live_runs_final_tally_as_run_json_has_it(
    tmp_path: Path, prometheus: StartPrometheus
) -> None:
    port = free_port()
    server = prometheus(targets=[ScrapeTarget("run", join_hostport(LOOPBACK, port))])
    out = tmp_path / "reports"
    fault = "dropped-responses"
    argv = ["run", str(SMALL_SCENARIO), "--fault", fault, "--operations", "60", "--quiet"]
    # naive runs first: its final tally stays served through the idempotent cell, scraped every second
    assert main([*argv, "--out", str(out), "--metrics-port", str(port)]) == 0

    run = json.loads(next(out.glob("*/run.json")).read_text(encoding="utf-8"))
    (naive,) = [cell for cell in run["verdict"]["cells"] if cell["variant"] == "naive"]
    tallies = naive["tallies"]
    assert tallies["duplicated_operations"] > 0
    cell = f'{{scenario="payments-small", variant="naive", fault="{fault}"}}'

    def last(series: str) -> float | None:
        # the exporter is gone now, so its series are stale; a range keeps their last scraped value
        return _one_value(server.query(f"last_over_time({series}{cell}[15m])"))

    assert last(names.RUN_CELL_RUNNING) == 0, "the naive cell's final tally was never scraped"
    assert last(names.RUN_DUPLICATED_OPERATIONS) == tallies["duplicated_operations"]
    assert last(names.RUN_DUPLICATE_EFFECTS) == tallies["duplicate_effects"]
    assert last(names.RUN_EXPOSED_OPERATIONS) == tallies["exposed_operations"]
    assert last(names.RUN_DUPLICATE_RATE) == pytest.approx(
        tallies["duplicated_operations"] / tallies["exposed_operations"], abs=1e-12
    )
