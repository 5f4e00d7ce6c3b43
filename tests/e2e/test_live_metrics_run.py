"""``harness run --metrics-port`` on a real small run: real targets, the embedded proxy, Locust, the checker.

The command runs here (``harness.cli.main``, as the console script calls it) while a thread scrapes
``/metrics`` as a Prometheus server would, parsing each answer with prometheus_client's own parser. The
naive cell runs first, so the whole idempotent cell's time is there to scrape its final tally; those
numbers must be run.json's, the duplicates above zero. Once the command returns, the port is free.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from waiting import POLL_S

from harness.cli import main
from harness.listeners.metrics import MetricsServer
from harness.metric_names import (
    RUN_ATTEMPTS,
    RUN_CELL_RUNNING,
    RUN_DUPLICATE_EFFECTS,
    RUN_DUPLICATED_OPERATIONS,
    RUN_EXPOSED_OPERATIONS,
    RUN_OPERATIONS,
)
from harness.ports import LOOPBACK, free_port

SCENARIO = Path(__file__).with_name("small_payments.yaml")
FAULT = "dropped-responses"
SCRAPES_AT_MOST = 20_000
"""The scraper's bound: far more scrapes than a run of seconds allows, far fewer than an endless loop."""
RUN_AT_MOST_S = 600.0

Cell = dict[str, float]
"""One cell's samples at one scrape, by series name with its outcome/status labels, e.g.
``harness_run_operations_total{outcome=acknowledged}``."""


def cells_of(text: str) -> dict[tuple[str, str], Cell]:
    """Each cell's samples in one scrape, by (variant, fault)."""
    cells: dict[tuple[str, str], Cell] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            cell = (labels.pop("variant"), labels.pop("fault"))
            assert labels.pop("scenario") == "payments-small"
            shown = ",".join(f"{name}={labels[name]}" for name in sorted(labels))
            cells.setdefault(cell, {})[f"{sample.name}{{{shown}}}" if shown else sample.name] = sample.value
    return cells


def total(cell: Cell, series: str) -> float:
    """The sum of a series' samples over its outcome and status labels."""
    return sum(value for name, value in cell.items() if name.split("{")[0] == series)


class Scraper:
    """Scrapes the endpoint over and over from a thread, keeping every parsed answer in order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.scrapes: list[dict[tuple[str, str], Cell]] = []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._scrape, daemon=True)

    def _scrape(self) -> None:
        deadline = time.monotonic() + RUN_AT_MOST_S
        for _ in range(SCRAPES_AT_MOST):
            if self._done.is_set() or time.monotonic() > deadline:
                return
            try:
                answer = httpx.get(self.url, timeout=2.0)
            except httpx.TransportError:  # not listening yet, or no more
                answer = None
            if answer is not None and answer.status_code == 200:
                self.scrapes.append(cells_of(answer.text))
            self._done.wait(POLL_S)

    @contextmanager
    def running(self) -> Iterator[Scraper]:
        self._thread.start()
        try:
            yield self
        finally:
            self._done.set()
            self._thread.join(timeout=10.0)


def test_the_live_metrics_of_a_real_run_end_as_run_json_says(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "reports"
    argv = ["run", str(SCENARIO), "--fault", FAULT, "--operations", "60", "--quiet", "--out", str(out)]

    with Scraper(f"http://{LOOPBACK}:{port}/metrics").running() as scraper:
        status = main([*argv, "--metrics-port", str(port)])

    assert status == 0
    with MetricsServer(port):  # the command freed its port: a new endpoint listens there at once
        pass
    run = json.loads(next(out.glob("*/run.json")).read_text(encoding="utf-8"))
    checked = {(cell["variant"], cell["fault"]): cell for cell in run["verdict"]["cells"]}
    naive = ("naive", FAULT)

    seen = [scrape[naive] for scrape in scraper.scrapes if naive in scrape]
    running = [cell for cell in seen if cell[RUN_CELL_RUNNING] == 1]
    assert any(total(cell, f"{RUN_ATTEMPTS}_total") > 0 for cell in running), "no look while the load ran"
    ended = [cell for cell in seen if cell[RUN_CELL_RUNNING] == 0]
    assert ended, "the naive cell's final tally was never scraped"
    final, tallies = ended[-1], checked[naive]["tallies"]
    assert final[RUN_DUPLICATED_OPERATIONS] == tallies["duplicated_operations"] > 0
    assert final[RUN_DUPLICATED_OPERATIONS] == _number(checked[naive], "ops_with_duplicates")
    assert (
        final[RUN_DUPLICATE_EFFECTS]
        == tallies["duplicate_effects"]
        == _number(checked[naive], "extra_effects")
    )
    assert final[RUN_EXPOSED_OPERATIONS] == _number(checked[naive], "exposed_ops")
    assert final[f"{RUN_OPERATIONS}_total{{outcome=acknowledged}}"] == checked[naive]["acknowledged"]
    assert total(final, f"{RUN_ATTEMPTS}_total") == sum(checked[naive]["answers"].values())
    _assert_never_ran_back(seen)


def _number(cell: dict[str, object], name: str) -> float:
    """A checker's number in a run.json cell."""
    checks = cell["checks"]
    assert isinstance(checks, list)
    return next(float(check["numbers"][name]) for check in checks if name in check["numbers"])


def _assert_never_ran_back(seen: list[Cell]) -> None:
    """Every counter and detected-so-far gauge of a cell only grows from scrape to scrape."""
    for earlier, later in zip(seen, seen[1:], strict=False):
        for name, value in earlier.items():
            if name.endswith("_total") or "_total{" in name or name in (RUN_DUPLICATED_OPERATIONS,):
                assert later.get(name, 0) >= value, name
