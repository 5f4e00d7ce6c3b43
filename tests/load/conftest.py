"""A tiny charges server on port 0 that answers, hangs or resets as each test decides, and records.

Requests are told apart by the body's ``reference`` (the op id). For references in ``pairs`` the
server holds each of the first two requests until both have arrived, so a double submit that really
overlaps is answered at once. With ``together=N`` it holds each of the first N requests until N have
arrived, so N users provably had an operation at the same time. A request still waiting for company
after ``COMPANY_WAIT_S`` goes on and is listed in ``alone``: tests check it, not how fast things went.

It runs in a thread of the test process; the driver under test is a separate process, so the
gevent patching of the driver never meets this server.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import pytest

import harness.load.config

Action = Literal["ok", "hang", "hang_forever", "reset", "error", "conflict"]
Decide = Callable[[str, int], Action]
"""(reference, attempt number seen by the server for that reference) -> what to do."""

Serving = Callable[..., AbstractContextManager["ChargeServer"]]
"""The fixture's type: ``serving(decide, hang_s=1.0, pairs=frozenset(), together=0)``."""

HANG_FOREVER_BOUND_S = 30.0
COMPANY_WAIT_S = 30.0


@dataclass(frozen=True)
class Received:
    reference: str
    number: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    method: str = "POST"
    path: str = "/charges"

    @property
    def key(self) -> str | None:
        return dict(self.headers).get("Idempotency-Key")


class ChargeServer:
    """A ThreadingHTTPServer speaking HTTP/1.1 keep-alive, so a poisoned reused connection would show."""

    def __init__(
        self, decide: Decide, hang_s: float = 1.0, pairs: frozenset[str] = frozenset(), together: int = 0
    ) -> None:
        self.decide = decide
        self.hang_s = hang_s
        self.pairs = pairs
        self.together = together
        self._arrivals = threading.Condition()
        self.received: list[Received] = []
        self.alone: list[str] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the name http.server dispatches to
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                reference = str(json.loads(body).get("reference", "")) if body else ""
                headers = tuple(self.headers.items())
                received = Received(reference, 0, body, headers, self.command, self.path)
                action, number = server.record(received)
                if action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.rfile.close()
                    self.connection.close()
                    self.close_connection = True
                    return
                if action == "hang_forever":
                    server.stopping.wait(HANG_FOREVER_BOUND_S)
                    self.close_connection = True
                    return
                if action == "hang":
                    server.stopping.wait(server.hang_s)
                status = {"error": 503, "conflict": 409}.get(action, 201)
                payload = (
                    {"error": action}
                    if status != 201
                    else {"id": f"ch_{reference}_{number}", "data": {"id": f"d_{reference}_{number}"}}
                )
                self.reply(status, json.dumps(payload).encode())

            do_PUT = do_PATCH = do_DELETE = do_GET = do_POST

            def reply(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up on a hung request
                    self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05})

    def record(self, received: Received) -> tuple[Action, int]:
        reference = received.reference
        with self._lock:
            number = self._counts.get(reference, 0) + 1
            self._counts[reference] = number
            self.received.append(dataclasses.replace(received, number=number))
            arrival = len(self.received)
        if reference in self.pairs and number <= 2:
            self._wait_for_company(reference, lambda: self._counts[reference] >= 2)
        if arrival <= self.together:
            self._wait_for_company(reference, lambda: len(self.received) >= self.together)
        return self.decide(reference, number), number

    def _wait_for_company(self, reference: str, arrived: Callable[[], bool]) -> None:
        """Hold this request until ``arrived()``; list it in ``alone`` if that never came."""
        with self._arrivals:
            self._arrivals.notify_all()
            if not self._arrivals.wait_for(arrived, timeout=COMPANY_WAIT_S):
                self.alone.append(reference)

    def by_reference(self) -> dict[str, list[Received]]:
        with self._lock:
            grouped: dict[str, list[Received]] = {}
            for request in self.received:
                grouped.setdefault(request.reference, []).append(request)
            return grouped

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def serving() -> Iterator[Serving]:
    """``with serving(decide) as server:`` a started server, stopped whatever the test does."""

    @contextmanager
    def serve(
        decide: Decide, hang_s: float = 1.0, pairs: frozenset[str] = frozenset(), together: int = 0
    ) -> Iterator[ChargeServer]:
        server = ChargeServer(decide, hang_s, pairs, together)
        server.start()
        try:
            yield server
        finally:
            server.stop()

    yield serve


@pytest.fixture
def fresh_starts(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every load process command started afresh (not forked from the driver server) from now on."""
    commands: list[list[str]] = []
    real = harness.load.config.start_recorded

    def recording(command: list[str], *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        commands.append(command)
        return real(command, *args, **kwargs)

    monkeypatch.setattr(harness.load.config, "start_recorded", recording)
    return commands
