"""A port that answers is not proof that our server answers: the holder of its listening socket is.

A stranger (another run's target, another test's store) that took the free port we picked answers the
health check while our server fails to bind; without this check every request of the cell would go
to the stranger and a broken variant would be judged on a correct one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest

import harness.ports
from harness.errors import ServicePortTakenError, TargetPortTakenError
from harness.port_holders import foreign_listener, listening_inodes, socket_inodes
from harness.ports import LOOPBACK, free_port
from harness.processes import end_process
from harness.proctable import process_info
from harness.runtime.base import Endpoint, launch_on_a_free_port
from harness.runtime.process import ProcessTarget
from harness.services.process import ServerProcess
from tests.threaded_server import served

NEVER_BINDS = [sys.executable, "-c", "import time; time.sleep(60)"]
"""A server that is alive and never binds: whatever answers its port is somebody else."""


class AlwaysHealthy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stranger() -> Iterator[int]:
    """A healthy HTTP server of this (pytest's) process on a loopback port: its port."""
    with served(HTTPServer((LOOPBACK, 0), AlwaysHealthy)) as url:
        yield int(url.rsplit(":", 1)[1])


@pytest.fixture
def other_process() -> Iterator[int]:
    process = subprocess.Popen(NEVER_BINDS, start_new_session=True)
    try:
        yield process.pid
    finally:
        end_process(process, signal.SIGKILL, 1.0)


def test_a_socket_of_ours_is_ours(stranger: int) -> None:
    assert listening_inodes(LOOPBACK, stranger)
    assert foreign_listener(LOOPBACK, stranger, [os.getpid()]) is None


def test_a_socket_of_another_process_names_that_process(stranger: int, other_process: int) -> None:
    holder = foreign_listener(LOOPBACK, stranger, [other_process])
    own_command = Path(f"/proc/{os.getpid()}/cmdline").read_bytes().rstrip(b"\0").replace(b"\0", b" ")
    assert holder == f"pid {os.getpid()} ({own_command.decode()})"


def test_a_wildcard_listener_answers_for_loopback(other_process: int) -> None:
    with socket.socket() as listener:
        listener.bind(("0.0.0.0", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert listening_inodes(LOOPBACK, port) == listening_inodes("0.0.0.0", port) != set()
        assert foreign_listener(LOOPBACK, port, [other_process]) is not None
        assert foreign_listener(LOOPBACK, port, [os.getpid()]) is None


def test_a_dual_stack_listener_answers_for_both_loopbacks_and_a_v6_one_not_for_v4() -> None:
    with socket.socket(socket.AF_INET6) as dual, socket.socket(socket.AF_INET6) as v6_only:
        dual.bind(("::", 0))
        dual.listen()
        port = dual.getsockname()[1]
        (inode,) = listening_inodes("::1", port) or {0}
        assert listening_inodes(LOOPBACK, port) == {inode} and inode in (socket_inodes(os.getpid()) or ())
        v6_only.bind(("::1", 0))
        v6_only.listen()
        assert listening_inodes(LOOPBACK, v6_only.getsockname()[1]) == set()


def test_nothing_listening_and_an_unknown_host_claim_nothing(other_process: int) -> None:
    port = free_port()
    assert listening_inodes(LOOPBACK, port) == set()
    assert foreign_listener(LOOPBACK, port, [other_process]) is None
    assert listening_inodes("localhost", port) is None  # not an address: /proc cannot say


def test_a_process_that_exited_holds_no_socket() -> None:
    process = subprocess.Popen(NEVER_BINDS)
    assert socket_inodes(process.pid) is not None
    process.kill()
    process.wait()
    assert process_info(process.pid) is None
    assert socket_inodes(process.pid) == set()


def process_target(command: list[str], tmp_path: Path, endpoint: Endpoint) -> ProcessTarget:
    return ProcessTarget(
        command=command,
        env=dict(os.environ),
        endpoint=endpoint,
        log_path=tmp_path / "target.log",
        start_timeout_s=10,
        registry=None,
    )


def test_a_target_whose_port_a_stranger_answers_for_is_not_started(tmp_path: Path, stranger: int) -> None:
    target = process_target(NEVER_BINDS, tmp_path, Endpoint(LOOPBACK, stranger))
    try:
        with pytest.raises(
            TargetPortTakenError, match=rf"lost its port 127\.0\.0\.1:{stranger}: pid {os.getpid()}"
        ):
            target.launch()
        assert not target.is_alive()  # this start is ended, not left to fail on its own
    finally:
        target.stop()


def test_a_new_target_moves_to_another_port_and_the_stranger_hears_nothing(
    tmp_path: Path, stranger: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    picks = iter([stranger])
    real_free_port = harness.ports.free_port
    monkeypatch.setattr(harness.ports, "free_port", lambda: next(picks, None) or real_free_port())
    script = tmp_path / "serve.py"
    script.write_text(
        "import http.server, sys\n"
        "class Own(http.server.BaseHTTPRequestHandler):\n"
        "    def do_GET(self):\n"
        "        self.send_response(200); self.send_header('Content-Length', '3'); self.end_headers()\n"
        "        self.wfile.write(b'own')\n"
        "http.server.HTTPServer(('127.0.0.1', int(sys.argv[1])), Own).serve_forever()\n"
    )

    def make(endpoint: Endpoint) -> ProcessTarget:
        return process_target([sys.executable, str(script), str(endpoint.port)], tmp_path, endpoint)

    target = launch_on_a_free_port(make)
    try:
        assert target.endpoint.port != stranger
        assert httpx.get(f"{target.endpoint.base_url}/health").text == "own"
    finally:
        target.stop()


def test_a_store_whose_port_a_stranger_holds_is_stopped_and_retried(tmp_path: Path, stranger: int) -> None:
    server = ServerProcess("store", NEVER_BINDS, tmp_path / "store.log", registry=None)
    server.launch()
    try:
        with pytest.raises(ServicePortTakenError, match=rf"store lost its port 127\.0\.0\.1:{stranger}"):
            server.wait_ready(lambda: True, 10, serves=[Endpoint(LOOPBACK, stranger)])
        assert server.pids() == []  # stopped before the error
    finally:
        server.stop()
