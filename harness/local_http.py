"""The one HTTP client of the harness's own reads of the services it runs: health polls, effects probes.

A new ``httpx.Client`` (what each ``httpx.get`` makes) loads the CA bundle again, about 20 ms of CPU,
and these reads are many: every start and restart of a target is polled until healthy, and a running
cell's watch probes its target's effects twice a second, a few cells at once. The client is made on
first use and lives as long as the process. It keeps no connection between requests: a target killed
and restarted on its port must be met by a new one.
"""

from __future__ import annotations

import threading

import httpx

_CLIENTS: list[httpx.Client] = []
_LOCK = threading.Lock()


def local_client() -> httpx.Client:
    """The process's shared client (thread-safe: cells on threads of their own share it)."""
    with _LOCK:
        if not _CLIENTS:
            _CLIENTS.append(httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)))
        return _CLIENTS[0]
