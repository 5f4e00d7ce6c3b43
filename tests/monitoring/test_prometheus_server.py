"""The test Prometheus itself: it starts, answers queries, reports refusals and time-outs, and ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_server import PromQLError, ScrapeTarget, StartPrometheus, config, values

from harness.errors import ServiceError
from harness.ports import is_port_free
from harness.proctable import snapshot, still_alive


def test_answers_a_query_and_is_gone_by_pid_after_stop(prometheus: StartPrometheus) -> None:
    server = prometheus()
    assert values(server.query("1 + 1")) == [2.0]
    port = int(server.url.rsplit(":", 1)[1])
    processes = snapshot(server.pids())
    assert processes

    server.stop()

    assert still_alive(processes) == []
    assert is_port_free(port)


def test_a_query_that_does_not_parse_is_refused_with_prometheus_reason(prometheus: StartPrometheus) -> None:
    server = prometheus()
    with pytest.raises(PromQLError, match=r"bad_data.*parse error"):
        server.query("sum(")


def test_wait_for_names_the_query_and_its_last_result_when_it_never_holds(
    prometheus: StartPrometheus,
) -> None:
    server = prometheus()
    with pytest.raises(AssertionError, match=r"'vector\(3\)'.*'3'"):
        server.wait_for("vector(3)", lambda result: values(result) == [4.0], timeout_s=0.5)


def test_a_rule_file_prometheus_rejects_fails_the_start_with_its_log(
    prometheus: StartPrometheus, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: 'sum('\n")
    with pytest.raises(ServiceError, match=r"prometheus exited .*while starting"):
        prometheus(rule_files=[broken])


def test_scrape_targets_off_loopback_are_refused() -> None:
    with pytest.raises(ValueError, match=r"'10\.0\.0\.1:9100' of job 'watch' is not on loopback"):
        ScrapeTarget("watch", "10.0.0.1:9100")
    assert ScrapeTarget("watch", "127.0.0.1:9100").address == "127.0.0.1:9100"


def test_config_scrapes_each_job_once_a_second(tmp_path: Path) -> None:
    targets = [
        ScrapeTarget("watch", "127.0.0.1:1"),
        ScrapeTarget("run", "127.0.0.1:2"),
        ScrapeTarget("watch", "[::1]:3"),
    ]
    generated = config(targets, [tmp_path / "rules.yml"])
    assert generated["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    assert generated["rule_files"] == [str(tmp_path / "rules.yml")]
    assert generated["scrape_configs"] == [
        {"job_name": "watch", "static_configs": [{"targets": ["127.0.0.1:1", "[::1]:3"]}]},
        {"job_name": "run", "static_configs": [{"targets": ["127.0.0.1:2"]}]},
    ]
