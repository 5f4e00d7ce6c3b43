"""``harness proxy`` driven by the published Toxiproxy clients, unchanged, through every call each offers.

toxiproxy-python and chaostoolkit-toxiproxy come with the dev extra; toxiproxy-node-client is
installed from npm into a temporary folder. An unreachable npm registry fails the test: a skipped
client check would read as a passing one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import toxiproxy
from chaostoxi.proxy import actions as ctk_proxy
from chaostoxi.proxy import probes as ctk_probes
from chaostoxi.toxic import actions as ctk_toxic
from toxiproxy.api import APIConsumer

from harness.ports import free_port
from proxy.proxy_helpers import Upstream, recv_exactly

HERE = Path(__file__).parent
REPO = HERE.parent.parent
NODE_DRIVER = HERE / "clients" / "drive_node_client.js"


class HarnessProxy:
    """``harness proxy`` in its own process on a free loopback port; ended by its pid."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-c",
            "from harness.cli import main; main()",
            "proxy",
            "--port",
            str(self.port),
        ]
        with log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        self.log = log

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"harness proxy exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/version", timeout=1, trust_env=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)  # polling a condition with a deadline
        pytest.fail(f"harness proxy not answering on {self.url} after {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture(scope="module")
def harness_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HarnessProxy]:
    server = HarnessProxy(tmp_path_factory.mktemp("harness-proxy") / "proxy.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
    assert "Traceback" not in server.log.read_text()


@pytest.fixture
def fresh(harness_proxy: HarnessProxy) -> Iterator[HarnessProxy]:
    """The server with no proxies before and after the test."""
    yield harness_proxy
    with httpx.Client(base_url=harness_proxy.url, trust_env=False, timeout=10) as api:
        for name in api.get("/proxies").json():
            api.delete(f"/proxies/{name}")


def echo_through(listen: str, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", int(listen.rsplit(":", 1)[1])), timeout=5) as sock:
        sock.sendall(payload)
        return recv_exactly(sock, len(payload))


def test_toxiproxy_python_every_call(fresh: HarnessProxy, echo: Upstream) -> None:
    client = toxiproxy.Toxiproxy()
    client.update_api_consumer("127.0.0.1", fresh.port)
    try:
        assert client.running() is True
        assert b'"version"' in client.version()
        proxy = client.create(upstream=echo.hostport, name="py")
        assert echo_through(proxy.listen, b"hello") == b"hello"
        assert set(client.proxies()) == {"py"} and client.get_proxy("py").upstream == echo.hostport
        proxy.add_toxic(type="latency")  # every default: no stream, toxicity or attributes
        proxy.add_toxic(type="slicer", stream="upstream", toxicity=0.5, attributes={"average_size": 4})
        assert set(proxy.toxics()) == {"latency_downstream", "slicer_upstream"}
        assert proxy.get_toxic("latency_downstream").attributes == {"latency": 0, "jitter": 0}
        assert proxy.destroy_toxic("slicer_upstream") is True
        assert proxy.get_toxic("slicer_upstream") is None
        proxy.disable()
        assert client.get_proxy("py").enabled is False
        proxy.enable()
        with proxy.down():
            assert client.get_proxy("py").enabled is False
        assert echo_through(proxy.listen, b"back") == b"back"
        created = client.populate([{"name": "py2", "upstream": echo.hostport, "listen": "127.0.0.1:0"}])
        assert [p.name for p in created] == ["py2"]
        assert client.reset() is True
        assert client.get_proxy("py").toxics() == {}
        assert client.destroy(proxy) is True
        client.destroy_all()
        assert client.proxies() == {}
    finally:
        APIConsumer.host, APIConsumer.port = "127.0.0.1", 8474


def test_chaostoolkit_every_call(
    fresh: HarnessProxy, echo: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ctk_PORT", raising=False)  # create_proxy writes the port into the environment
    configuration: dict[str, object] = {"toxiproxy_host": "127.0.0.1", "toxiproxy_port": fresh.port}
    upstream_host, upstream_port = echo.hostport.rsplit(":", 1)
    # its default listen address is 0.0.0.0:0, narrowed to loopback without --allow-remote
    assert ctk_proxy.create_proxy("ctk", upstream_host, int(upstream_port), configuration=configuration)
    listen = f"127.0.0.1:{configuration['ctk_PORT']}"
    assert ctk_probes.get_proxy_attribute("ctk", "listen", configuration=configuration) == listen
    assert echo_through(listen, b"hello") == b"hello"
    assert ctk_probes.proxy_exist("ctk", configuration=configuration) is True
    assert ctk_proxy.disable_proxy("ctk", configuration=configuration) is True
    assert ctk_probes.get_proxy_attribute("ctk", "enabled", configuration=configuration) is False
    assert ctk_proxy.enable_proxy("ctk", configuration=configuration) is True
    assert ctk_proxy.modify_proxy("ctk", upstream_address=echo.hostport, configuration=configuration)
    assert ctk_toxic.create_toxic("ctk", "bare", "latency", configuration=configuration)  # attributes: null
    assert ctk_toxic.create_latency_toxic("ctk", "lat", 10, configuration=configuration)
    assert ctk_toxic.create_bandwith_degradation_toxic("ctk", "bw", 1000, configuration=configuration)
    assert ctk_toxic.create_slow_connection_close_toxic("ctk", "sc", 10, configuration=configuration)
    assert ctk_toxic.create_slicer_toxic("ctk", "sl", 10, 5, 0, configuration=configuration)
    assert ctk_toxic.create_limiter_toxic("ctk", "lim", 100_000, configuration=configuration)
    assert ctk_toxic.create_timeout_toxic("ctk", "to", 0, configuration=configuration)
    shown = {toxic["name"]: toxic for toxic in ctk_probes.get_proxy_attribute("ctk", "toxics", configuration)}
    assert set(shown) == {"bare", "lat", "bw", "sc", "sl", "lim", "to"}
    assert shown["bare"]["attributes"] == {"latency": 0, "jitter": 0}
    assert ctk_toxic.delete_toxic("ctk", "to", configuration=configuration) is True
    assert ctk_proxy.reset(configuration=configuration) is True
    assert ctk_probes.get_proxy_attribute("ctk", "toxics", configuration=configuration) == []
    ctk_proxy.delete_proxy("ctk", configuration=configuration)
    assert ctk_probes.proxy_exist("ctk", configuration=configuration) is False


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with toxiproxy-node-client installed from npm; a failed install fails the test."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.fail("node and npm are needed to check toxiproxy-node-client; install Node.js")
    folder = tmp_path_factory.mktemp("node-client")
    try:
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "toxiproxy-node-client"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=240,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("npm install toxiproxy-node-client timed out after 240 s: is the npm registry reachable?")
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
        pytest.fail(f"npm install toxiproxy-node-client failed: is the npm registry reachable?\n{tail}")
    shutil.copy(NODE_DRIVER, folder / NODE_DRIVER.name)
    return folder


def test_toxiproxy_node_client_every_call(fresh: HarnessProxy, echo: Upstream, node_client: Path) -> None:
    result = subprocess.run(
        ["node", NODE_DRIVER.name, fresh.url, echo.hostport],
        cwd=node_client,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"toxiproxy-node-client failed at {result.stderr.strip()}"
    seen = json.loads(result.stdout)
    assert json.loads(seen["version"])["version"].startswith("2.")
    assert seen["echo"] == "hello" and seen["sliced"] == "sliced through"
    assert seen["all"] == ["node"] and seen["got"]["upstream"] == echo.hostport
    assert (seen["disabled"], seen["enabled"]) == (False, True)
    slicer = seen["toxics"]["slicer"]
    assert slicer["created"]["attributes"] == {"average_size": 10, "size_variation": 10, "delay": 0}
    assert all(toxic["updated"]["toxicity"] == 0.5 for toxic in seen["toxics"].values())
    assert seen["bare"]["attributes"] == {"latency": 0, "jitter": 0}
    assert seen["populated"] == ["node2"] and seen["left"] == []
    assert seen["afterReset"] == "Request failed with status code 404"  # reset removed the toxic
