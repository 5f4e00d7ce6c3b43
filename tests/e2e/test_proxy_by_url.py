"""The harness reaches its fault proxy only through Toxiproxy's HTTP API, so any server by URL works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.cli import main
from harness.proxy.embedded import EmbeddedProxy
from harness.run import RunOptions, run_scenario
from harness.scenario import load_scenario
from tests.threaded_server import served

TCP_LATENCY = """
name: by-url
seed: 99
target: {name: payments, variants: [naive]}
load: {operations: 20, users: 4, retry: {max_attempts: 2, timeout_s: 0.4}}
faults:
  slow-connections:
    toxics: [{type: latency, stream: downstream, toxicity: 1.0, attributes: {latency: 700}}]
"""

HTTP_TOXIC = """
name: needs-http-toxics
target: {name: payments, variants: [naive]}
faults:
  drops: {toxics: [{type: drop_response, toxicity: 0.2}]}
"""


class RealToxiproxyVersion(BaseHTTPRequestHandler):
    """Answers like Toxiproxy 2.x does: a version document without our HTTP toxics."""

    def do_GET(self) -> None:
        body = json.dumps({"version": "2.9.0"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def real_toxiproxy_url() -> Iterator[str]:
    with served(ThreadingHTTPServer(("127.0.0.1", 0), RealToxiproxyVersion), "real-toxiproxy") as url:
        yield url


def test_standard_toxics_through_a_proxy_given_by_url(tmp_path: Path) -> None:
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text(TCP_LATENCY)
    with EmbeddedProxy.start(tmp_path / "proxy.log") as proxy:
        options = RunOptions(out_root=tmp_path / "reports", proxy_url=proxy.url, fixed=True)
        result = run_scenario(load_scenario(scenario_file), str(scenario_file), options)
    assert result.proxy == proxy.url
    cell = result.verdict.cell("naive", "slow-connections")
    assert cell.operations == 20
    # every response arrives after the client's timeout, and every retry is charged again
    assert cell.ops_with_duplicates == 20
    assert cell.unknown == 20


def test_http_toxic_on_a_server_without_them_is_a_clear_error(
    tmp_path: Path, real_toxiproxy_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text(HTTP_TOXIC)
    status = main(["run", str(scenario_file), "--out", str(tmp_path), "--proxy-url", real_toxiproxy_url])
    assert status == 2
    err = capsys.readouterr().err
    assert "drop_response" in err and real_toxiproxy_url in err and "Traceback" not in err


def test_nothing_listening_at_the_proxy_url_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file = tmp_path / "s.yaml"
    scenario_file.write_text(HTTP_TOXIC)
    status = main(["run", str(scenario_file), "--out", str(tmp_path), "--proxy-url", "http://127.0.0.1:9"])
    assert status == 2
    assert "127.0.0.1:9" in capsys.readouterr().err
