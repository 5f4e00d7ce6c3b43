"""The proxy as a subprocess: EmbeddedProxy for the harness, and ``python -m harness.proxy`` errors."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.errors import HarnessError
from harness.proxy.embedded import EmbeddedProxy
from proxy.proxy_helpers import Upstream, recv_exactly

REPO = Path(__file__).resolve().parents[2]


def test_embedded_proxy_serves_and_is_ended_by_pid(tmp_path: Path, echo: Upstream) -> None:
    log = tmp_path / "proxy.log"
    with EmbeddedProxy.start(log) as proxy:
        pid = proxy.process.pid
        assert httpx.get(f"{proxy.url}/version", trust_env=False).json()["version"].startswith("2.")
        created = httpx.post(
            f"{proxy.url}/proxies", json={"name": "e", "upstream": echo.hostport}, trust_env=False
        )
        port = int(created.json()["listen"].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"sub")
            assert recv_exactly(sock, 3) == b"sub"
    assert proxy.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert f"fault proxy API listening on {proxy.url}" in log.read_text()
    proxy.stop()  # a second stop is harmless


def test_embedded_proxy_is_stopped_when_the_block_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), EmbeddedProxy.start(tmp_path / "p.log") as proxy:
        raise RuntimeError("run failed")
    assert proxy.process.poll() is not None


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.proxy", *args], cwd=REPO, capture_output=True, text=True, timeout=30
    )


def test_cli_refuses_a_remote_api_host_in_one_line() -> None:
    result = run_cli("--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: API host '0.0.0.0' is not loopback; pass --allow-remote to serve the API beyond this machine"
    ]


def test_cli_reports_a_bad_config_file_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "x"}]))
    result = run_cli("--port", "0", "--config", str(config))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"error: proxy config {config}: missing required field: upstream at proxy 1"
    )


def test_cli_populates_from_config(tmp_path: Path, echo: Upstream) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "from-config", "upstream": echo.hostport}]))
    ready = tmp_path / "ready"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.proxy",
            "--port",
            "0",
            "--config",
            str(config),
            "--ready-file",
            str(ready),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the API answers
        url = ready.read_text()
        assert line.strip() == f"fault proxy API listening on {url}"
        assert list(httpx.get(f"{url}/proxies", trust_env=False).json()) == ["from-config"]
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0


def test_port_in_use_for_the_api_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: fault proxy API address 127.0.0.1:{port} is already in use"


def test_embedded_start_failure_is_a_harness_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(HarnessError, match="exited with status 1 at start; see"):
        EmbeddedProxy.start(tmp_path / "p.log")


def test_child_exits_when_the_parent_is_killed(tmp_path: Path) -> None:
    """No orphan even when the harness dies without cleaning up (SIGKILL skips every handler)."""
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from harness.proxy.embedded import EmbeddedProxy\n"
        f"proxy = EmbeddedProxy.start(Path({str(tmp_path / 'p.log')!r}))\n"
        "print(proxy.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by init) counts as gone
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
