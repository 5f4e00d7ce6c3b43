"""The live metrics on the Run's fakes: the cell_tally hook, the watch made only for a listener, and the
series one MetricsServer serves per cell (scraped over HTTP, parsed by prometheus_client's parser)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from run_fakes import CRASH_SCENARIO, PARALLEL_SCENARIO, SCENARIO, fake_run, scenario_from

import harness.cell
from harness.cell_watch import CellWatch
from harness.errors import HarnessError
from harness.listeners import LiveMetrics, subscribe_listeners
from harness.listeners.metrics import MetricsServer
from harness.metric_names import (
    RUN_ATTEMPTS,
    RUN_CELL_RUNNING,
    RUN_CRASHES,
    RUN_DUPLICATE_EFFECTS,
    RUN_DUPLICATED_OPERATIONS,
    RUN_OPERATIONS,
    RUN_RETRIES,
    RUN_SERIES,
)
from harness.ports import LOOPBACK, free_port
from harness.result import RunResult
from harness.tally import CellTally

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample at ``url``, by name and sorted labels."""
    text = httpx.get(url, timeout=5.0).raise_for_status().text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def assert_port_freed(port: int) -> None:
    """Nothing answers on ``port`` any more, and a new server can listen there at once."""
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{LOOPBACK}:{port}/metrics", timeout=5.0)
    with MetricsServer(port):
        pass


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    with MetricsServer(free_port()) as serving:
        yield serving


def test_each_cell_ends_with_one_final_tally_the_checkers_own(tmp_path: Path) -> None:
    run, _, _ = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path)
    heard: list[tuple[str, dict[str, Any]]] = []
    run.events.cell_tally.add_listener(lambda **payload: heard.append(("cell_tally", payload)))
    run.events.cell_checked.add_listener(lambda **payload: heard.append(("cell_checked", payload)))

    result = run.run()

    finals = [payload for name, payload in heard if name == "cell_tally" and payload["final"]]
    assert len(finals) == len(result.verdict.cells)
    for payload in finals:
        cell = result.verdict.cell(payload["variant"], payload["fault"])
        assert payload["tally"] == cell.tallies
    naive = result.verdict.cell("naive", "dropped").tallies
    assert naive.duplicated_operations == 1 and naive.retries  # the fake charged op-1 twice after a retry
    names = [name for name, payload in heard if name == "cell_checked" or payload["final"]]
    assert names == ["cell_tally", "cell_checked"] * len(result.verdict.cells)  # the tally first


class CountedWatch(CellWatch):
    made: list[CountedWatch] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        CountedWatch.made.append(self)


@pytest.mark.parametrize("listened", [False, True])
def test_a_cell_that_runs_its_budget_is_looked_at_only_for_a_listener(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listened: bool
) -> None:
    CountedWatch.made = []
    monkeypatch.setattr(harness.cell, "CellWatch", CountedWatch)
    run, _, _ = fake_run(scenario_from(CRASH_SCENARIO, tmp_path), tmp_path)  # no gate: nothing to decide
    if listened:
        run.events.cell_tally.add_listener(lambda **payload: None)

    run.run()

    assert len(CountedWatch.made) == (1 if listened else 0)
    assert all(watch.decide is None and watch.seen is not None for watch in CountedWatch.made)


def test_the_server_serves_each_parallel_cell_under_its_own_labels(
    tmp_path: Path, server: MetricsServer
) -> None:
    run, _, _ = fake_run(scenario_from(PARALLEL_SCENARIO, tmp_path), tmp_path)
    subscribe_listeners(run.events, summary_md=False, metrics=LiveMetrics(server))
    at_the_end: list[Samples] = []
    run.events.run_finished.add_listener(lambda result: at_the_end.append(scrape(server.url)))

    result = run.run()

    samples = at_the_end[0]
    assert len(result.verdict.cells) == 4
    for cell in result.verdict.cells:
        labels = {"scenario": result.scenario_name, "variant": cell.variant, "fault": cell.fault}
        tally = cell.tallies
        assert value(samples, RUN_DUPLICATED_OPERATIONS, **labels) == tally.duplicated_operations
        assert value(samples, RUN_DUPLICATE_EFFECTS, **labels) == tally.duplicate_effects
        for outcome, count in tally.operations.items():
            assert value(samples, f"{RUN_OPERATIONS}_total", **labels, outcome=outcome) == count
        answered = sum(v for (name, _), v in samples.items() if name == f"{RUN_ATTEMPTS}_total"
                       and dict(_)["variant"] == cell.variant and dict(_)["fault"] == cell.fault)  # fmt: skip
        assert answered == sum(cell.answers.values())
        assert value(samples, RUN_CELL_RUNNING, **labels) == 0
    naive = {"scenario": result.scenario_name, "variant": "naive", "fault": "dropped"}
    assert value(samples, RUN_DUPLICATED_OPERATIONS, **naive) == 1
    assert value(samples, f"{RUN_RETRIES}_total", **naive, outcome="connection", status="none") == 1


def test_crashes_are_counted_as_the_nemesis_records_them(tmp_path: Path, server: MetricsServer) -> None:
    run, _, _ = fake_run(scenario_from(CRASH_SCENARIO, tmp_path), tmp_path)
    subscribe_listeners(run.events, summary_md=False, metrics=LiveMetrics(server))
    crashes_heard: list[float] = []

    def after_the_crash(**payload: Any) -> None:
        crashes_heard.append(value(scrape(server.url), f"{RUN_CRASHES}_total", scenario="fake-crash",
                                   variant="naive", fault="crash"))  # fmt: skip

    run.events.fault.add_listener(after_the_crash)
    result: RunResult = run.run()

    assert crashes_heard and max(crashes_heard) >= 1  # counted live, before the cell's end
    assert result.verdict.cell("naive", "crash").tallies.crashes == max(crashes_heard)


def test_the_server_serves_only_the_run_series_and_frees_its_port() -> None:
    port = free_port()
    cell = ("s", "v", "f")
    with MetricsServer(port) as server:
        server.collector.start(cell)
        server.collector.tally(cell, CellTally(duplicated_operations=2, exposed_operations=8), final=False)
        samples = scrape(server.url)
        text = httpx.get(server.url, timeout=5.0).text
    assert_port_freed(port)
    families = {family.name for family in text_string_to_metric_families(text)}
    assert families == set(RUN_SERIES)  # a registry of its own: no process_* nor python_* of the global one
    assert value(samples, "harness_run_duplicate_rate", scenario="s", variant="v", fault="f") == 0.25
    assert value(samples, RUN_CELL_RUNNING, scenario="s", variant="v", fault="f") == 1


def test_a_taken_port_is_refused_in_one_line_naming_the_option() -> None:
    with MetricsServer(free_port()) as taken, pytest.raises(HarnessError) as refused:
        MetricsServer(taken.port).__enter__()
    message = str(refused.value)
    assert message.startswith(f"--metrics-port {taken.port}:") and f"{LOOPBACK}:{taken.port}" in message
    assert "\n" not in message
