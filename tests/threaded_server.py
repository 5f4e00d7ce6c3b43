"""A standard-library HTTP server answering from a thread for the length of a ``with`` block.

Tests that need a small HTTP peer (a service's /metrics, a ledger endpoint, a fake Toxiproxy, a
resource API) write only its handler; starting it, its URL, and shutting it down so its port is closed
and its thread gone are the same everywhere, here once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import HTTPServer

from harness.ports import join_hostport


@contextmanager
def served(server: HTTPServer, name: str = "test-http-server") -> Iterator[str]:
    """``server`` (already bound) serving until the block ends; yields its ``http://host:port``."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{join_hostport(str(host), int(port))}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
