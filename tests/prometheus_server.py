"""A real Prometheus server for tests: what the monitoring examples are checked against.

The alerting rules and the dashboard in ``examples/monitoring/`` are only worth shipping if a real
Prometheus parses their queries and scrapes the harness's exporters the way a user's would. So tests
start Debian's ``/usr/bin/prometheus`` like the harness starts its stores (``harness/services``): one
child process on a free loopback port, a generated config, its storage and log in the test's folder,
readiness polled with a deadline, and ended by pid. It lives in ``tests/`` because users bring their
own Prometheus; only the tests need to start one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from harness.ports import LOOPBACK, is_loopback, join_hostport, on_free_port
from harness.services.base import start_or_clean_up
from harness.services.binaries import BinaryLookup
from harness.services.process import ServerProcess

PACKAGE = "prometheus"
START_TIMEOUT_S = 30.0
"""Prometheus opens its storage and loads rules before ``/-/ready``; seconds on a loaded machine."""
SCRAPE_INTERVAL = "1s"
"""Scrapes and rule evaluations this often, so a test sees a new value within seconds."""
QUERY_TIMEOUT_S = 10.0
WAIT_S = 30.0
"""How long :meth:`PrometheusServer.wait_for` waits by default: a few scrapes on a busy machine."""
POLL_S = 0.2

Sample = dict[str, Any]
"""One element of an instant vector as the HTTP API answers it: ``{"metric": {...}, "value": [t, "v"]}``."""


class PromQLError(AssertionError):
    """Prometheus refused a query (it does not parse, or cannot be evaluated); says which and why."""


@dataclass(frozen=True)
class ScrapeTarget:
    """A ``host:port`` to scrape at ``/metrics`` under a job name; loopback only (house rule)."""

    job: str
    address: str

    def __post_init__(self) -> None:
        host = urlsplit(f"//{self.address}").hostname or ""
        if not is_loopback(host):
            raise ValueError(f"scrape target {self.address!r} of job {self.job!r} is not on loopback")


def config(targets: Sequence[ScrapeTarget], rule_files: Sequence[Path]) -> dict[str, Any]:
    """The prometheus.yml for the targets (one scrape job each name) and rule files, 1 s intervals."""
    jobs: dict[str, list[str]] = {}
    for target in targets:
        jobs.setdefault(target.job, []).append(target.address)
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(path.resolve()) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": addresses}]} for job, addresses in jobs.items()
        ],
    }


class PrometheusServer:
    """One ``prometheus`` on a free loopback port; ``query`` and ``wait_for`` through its HTTP API."""

    def __init__(
        self,
        folder: Path,
        targets: Sequence[ScrapeTarget] = (),
        rule_files: Sequence[Path] = (),
    ) -> None:
        self._binary = BinaryLookup().find("prometheus", PACKAGE)
        self._folder = folder
        self._config_path = folder / "prometheus.yml"
        self._config = config(targets, rule_files)
        self._server: ServerProcess | None = None
        self.url = ""

    def start(self) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        self._config_path.write_text(yaml.safe_dump(self._config, sort_keys=False))
        on_free_port(self._launch)

    def _launch(self, port: int) -> float:
        address = join_hostport(LOOPBACK, port)
        server = ServerProcess(
            "prometheus",
            [
                str(self._binary),
                f"--config.file={self._config_path}",
                f"--storage.tsdb.path={self._folder / 'data'}",
                f"--web.listen-address={address}",
                "--log.level=warn",
            ],
            log_path=self._folder / "prometheus.log",
            registry=None,
        )
        self._server = server
        self.url = f"http://{address}"
        server.launch()
        return server.wait_ready(self._is_ready, START_TIMEOUT_S)

    def _is_ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, expr: str) -> list[Sample]:
        """The instant vector (or ``[{"value": [t, v]}]`` for a scalar) ``expr`` gives now.

        A query Prometheus refuses raises :class:`PromQLError` with its own reason, which is how a
        test learns that an expression does not parse.
        """
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=QUERY_TIMEOUT_S)
        body = answer.json()
        if body.get("status") != "success":
            raise PromQLError(f"{expr!r}: {body.get('errorType')}: {body.get('error')}")
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[Sample] = data["result"]
        return result

    def wait_for(
        self, expr: str, predicate: Callable[[list[Sample]], bool], timeout_s: float = WAIT_S
    ) -> list[Sample]:
        """Query ``expr`` until ``predicate`` holds for its result, and return that result; fail after
        ``timeout_s`` naming the query and the last result.

        Not ``waiting.wait_until``: each poll is an HTTP query and the data moves once a scrape (1 s),
        so it polls at 0.2 s, and a failure shows what Prometheus last answered, the first clue.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(expr)
            if predicate(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout_s:g} s waiting on {expr!r}; last result {result}"
                )
            time.sleep(POLL_S)

    def pids(self) -> list[int]:
        return [] if self._server is None else self._server.pids()

    def stop(self) -> None:
        """SIGTERM (Prometheus flushes its head block), SIGKILL after a grace period; safe twice."""
        if self._server is not None:
            self._server.stop()


def start_prometheus(
    folder: Path, targets: Sequence[ScrapeTarget] = (), rule_files: Sequence[Path] = ()
) -> PrometheusServer:
    """A started server, or :class:`~harness.errors.ServiceError` with its log's tail."""
    return start_or_clean_up(PrometheusServer(folder, targets, rule_files))


StartPrometheus = Callable[..., PrometheusServer]
"""The ``prometheus`` fixture: ``prometheus(targets=..., rule_files=...)`` → a started server."""


def values(result: list[Sample]) -> list[float]:
    """The numbers of a query's result, in its order."""
    return [float(sample["value"][1]) for sample in result]


def require_binary(program: str, package: str) -> Path:
    """The program's path; skip the test without it (fail on CI, where it must be installed)."""
    missing = BinaryLookup().missing((program,), package)
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{program} is needed on CI: {missing}")
        pytest.skip(missing)
    return BinaryLookup().find(program, package)
