"""A real Prometheus for the monitoring tests, started by each test with the targets it scrapes.

``prometheus(targets=..., rule_files=...)`` starts one (several if called again) in the test's
``tmp_path``; at teardown each is stopped and proven gone by pid. Without Debian's ``prometheus`` the
tests skip on a developer's machine and fail on CI (``CI=true``), as the store tests do.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from prometheus_server import (
    PrometheusServer,
    ScrapeTarget,
    StartPrometheus,
    require_binary,
    start_prometheus,
)

from harness.proctable import snapshot, still_alive


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[StartPrometheus]:
    require_binary("prometheus", "prometheus")
    servers: list[PrometheusServer] = []
    processes: dict[int, int] = {}

    def start(targets: Sequence[ScrapeTarget] = (), rule_files: Sequence[Path] = ()) -> PrometheusServer:
        server = start_prometheus(tmp_path / f"prometheus-{len(servers)}", targets, rule_files)
        servers.append(server)
        started = snapshot(server.pids())
        assert started, "prometheus reported ready but no process of it runs"
        processes.update(started)
        return server

    yield start
    for server in servers:
        server.stop()
    assert still_alive(processes) == []
