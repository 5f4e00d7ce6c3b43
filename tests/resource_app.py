"""A tiny resource service on a loopback port the OS picks: the method table, right and wrong.

``POST /things`` makes a thing (``201`` with its id; a body with ``"refuse": true`` is answered
``400``), ``GET``/``HEAD /things/{id}`` read it (``404`` once deleted or never made), and:

* ``PUT /things/{id}/address`` replaces the address: idempotent, as PUT must be;
* ``PUT /things/{id}/note`` *appends* the note and counts the notes: a PUT that is not idempotent;
* ``PATCH /things/{id}`` adds ``by`` to ``quantity``: applied on every call;
* ``DELETE /things/{id}`` answers ``204``, then ``404``.

With ``flaky_puts`` the first PUT to each path is answered ``503`` without being applied, so a
load retries it.

Every request is recorded (method, path, headers, body) so a test can check what was sent. It runs
in a thread of the test process, with stdlib ``http.server`` only.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.threaded_server import served


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ResourceApp:
    def __init__(self, flaky_puts: bool = False) -> None:
        self.flaky_puts = flaky_puts
        self._put_paths: set[str] = set()
        self.things: dict[str, dict[str, Any]] = {}
        self.seen: list[Seen] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def handle(self, method: str, path: str, body: object) -> tuple[int, object]:
        """The status and JSON answer of one request (``None``: no body)."""
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["things"]:
            assert isinstance(body, dict)
            if body.get("refuse"):
                return 400, {"detail": "refused"}
            thing_id = f"t{next(self._ids)}"
            self.things[thing_id] = {
                "id": thing_id,
                "created_at": len(self.seen),
                "name": body.get("name"),
                "quantity": 1,
                "address": None,
                "notes": [],
            }
            return 201, self.things[thing_id]
        thing = self.things.get(parts[1]) if len(parts) >= 2 and parts[0] == "things" else None
        if thing is None:
            return 404, {"detail": "no such thing"}
        if method == "PUT" and self.flaky_puts and path not in self._put_paths:
            self._put_paths.add(path)
            return 503, {"detail": "try again"}
        if method == "PUT" and parts[2:] == ["address"]:
            assert isinstance(body, dict)
            thing["address"] = body["address"]
        elif method == "PUT" and parts[2:] == ["note"]:
            assert isinstance(body, dict)
            thing["notes"].append(body["note"])
        elif method == "PATCH":
            assert isinstance(body, dict)
            thing["quantity"] += body["by"]
        elif method == "DELETE":
            del self.things[parts[1]]
            return 204, None
        return 200, thing


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no delayed-ACK wait between them
    server: _Server

    def _answer(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        app = self.server.app
        with app._lock:
            app.seen.append(Seen(self.command, self.path, dict(self.headers.items()), raw))
            status, answer = app.handle(self.command, self.path, json.loads(raw) if raw else None)
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's name
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: ResourceApp) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app


@contextmanager
def resource_app(flaky_puts: bool = False) -> Iterator[tuple[ResourceApp, str]]:
    """A started app and its base URL; stopped (and its port closed) whatever the test does."""
    app = ResourceApp(flaky_puts)
    with served(_Server(app), "resource-app") as url:
        yield app, url
