"""A small orders API on a loopback port, correct or broken in one way per method check.

The shape of ``targets/orders``' method endpoints (``POST /orders``, ``GET``/``HEAD``/``PATCH``/``DELETE``/
``OPTIONS /orders/{id}``, ``PUT /orders/{id}/address``), served by the standard library's threading
HTTP server so the method checks meet real sockets, real headers and real status lines.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.threaded_server import served

MODES = (
    "correct",
    "put-appends",  # PUT .../address appends a history row per call; address_changes counts rows
    "delete-500",  # DELETE of an order already deleted answers 500
    "get-counts-views",  # GET and HEAD bump a view counter kept in the order
    "head-differs",  # HEAD answers text/plain where GET answers JSON
    "patch-ignores-key",  # PATCH applies its increment on every call, key or not
    "allow-lies",  # OPTIONS' Allow leaves out PATCH and DELETE and lists PUT, which answers 405
    "create-fails",  # POST /orders answers 503
)
ALLOWED = "GET, HEAD, PATCH, DELETE, OPTIONS"


@dataclass
class Orders:
    """The server's state: orders by id, deleted ids, stored PATCH answers by key."""

    mode: str
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    replays: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        identifier = str(len(self.orders) + 1)
        order = {"id": identifier, "sku": body.get("sku"), "quantity": body.get("quantity", 1),
                 "address": None, "address_changes": 0, "views": 0}
        self.orders[identifier] = order
        return order


class Handler(BaseHTTPRequestHandler):
    server: OrdersServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Quiet: the tests read answers, not access logs."""

    def _answer(self, status: int, body: object = None, *, content_type: str = "application/json",
                headers: dict[str, str] | None = None) -> None:
        content = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(content)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def _order(self) -> tuple[dict[str, Any] | None, str]:
        """The order the path names (None: absent) and what follows its id (``""`` or ``/address``)."""
        parts = self.path.split("/")
        identifier = parts[2] if len(parts) > 2 else ""
        return self.server.state.orders.get(identifier), "/".join(parts[3:])

    def _not_allowed(self) -> None:
        self._answer(405, {"detail": "Method Not Allowed"}, headers={"Allow": self._allow()})

    def _allow(self) -> str:
        return "GET, HEAD, PUT, OPTIONS" if self.server.state.mode == "allow-lies" else ALLOWED

    def do_POST(self) -> None:
        state = self.server.state
        if self.path != "/orders":
            return self._not_allowed()
        if state.mode == "create-fails":
            return self._answer(503, {"detail": "unavailable"})
        with state.lock:
            order = state.create(self._body() or {})
        self._answer(201, order, headers={"Location": f"/orders/{order['id']}"})

    def _read(self) -> None:
        state = self.server.state
        order, rest = self._order()
        if rest:
            return self._not_allowed()
        if order is None:
            return self._answer(404, {"detail": "not found"})
        if state.mode == "get-counts-views":
            with state.lock:
                order["views"] += 1
        differs = state.mode == "head-differs" and self.command == "HEAD"
        self._answer(200, order, content_type="text/plain" if differs else "application/json")

    do_GET = _read
    do_HEAD = _read

    def do_PUT(self) -> None:
        state = self.server.state
        order, rest = self._order()
        if rest != "address":
            return self._not_allowed()
        if order is None:
            return self._answer(404, {"detail": "not found"})
        body = self._body()
        with state.lock:
            order["address"] = {"line1": body["line1"], "city": body["city"]}
            order["address_changes"] = order["address_changes"] + 1 if state.mode == "put-appends" else 1
        self._answer(200, order)

    def do_PATCH(self) -> None:
        state = self.server.state
        order, rest = self._order()
        if rest:
            return self._not_allowed()
        if order is None:
            return self._answer(404, {"detail": "not found"})
        key = self.headers.get("Idempotency-Key")
        body = self._body()
        with state.lock:
            if key is not None and key in state.replays and state.mode != "patch-ignores-key":
                status, stored = state.replays[key]
                return self._answer(status, stored)
            order[body["field"]] += body["by"]
            answer = dict(order)
            if key is not None:
                state.replays[key] = (200, answer)
        self._answer(200, answer)

    def do_DELETE(self) -> None:
        state = self.server.state
        parts = self.path.split("/")
        identifier = parts[2] if len(parts) == 3 else ""
        with state.lock:
            if identifier in state.orders:
                del state.orders[identifier]
                state.deleted.add(identifier)
                return self._answer(204)
            if identifier in state.deleted and state.mode == "delete-500":
                return self._answer(500, {"detail": "already deleted"})
        self._answer(404, {"detail": "not found"})

    def do_OPTIONS(self) -> None:
        self._answer(204, headers={"Allow": self._allow()})


class OrdersServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = Orders(mode)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def serving(mode: str) -> Iterator[OrdersServer]:
    """The server in ``mode`` on a free loopback port, answering from a thread until the block ends."""
    assert mode in MODES, mode
    server = OrdersServer(mode)
    with served(server, f"orders-{mode}"):
        yield server
