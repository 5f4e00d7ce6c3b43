"""Load drivers forked from one fork server per run, which imported Locust and gevent once.

A fresh driver process spends about a CPU second importing Locust (and more on a busy machine), once
per cell: on a 2-core machine six cells' imports were a third of a payments run's CPU. Inside
:func:`drivers_forked` (a run), each driver started early (:func:`harness.load.config.driver_started_early`)
is forked instead from the server of ``harness/runtime/forkserver.py`` (the targets' own), which imported
the driver's imports, Locust's monkey-patching included, before its first fork; each child re-initialises
gevent's hub and runs the driver as ``python -m harness.load.driver`` would, in a session of its own, its
stdout piped to the harness and its stderr in the cell's log. The server is ended with the block (it
kills any child it still has), or by itself when the harness's end of its socket closes.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from harness.pidfiles import PidRegistry
from harness.processes import POLL_S
from harness.runtime.spawn import ForkedChild, ForkServer

DRIVER_MODULE = "harness.load.driver"
SERVER_ANSWER_S = 60.0
"""How long a start waits for the server's answer; the first one waits for its imports of Locust."""


class ForkedDriver:
    """A driver forked from the server, with the members of ``subprocess.Popen`` that following a
    driver uses (:func:`harness.load.config.run_driver`)."""

    def __init__(self, child: ForkedChild) -> None:
        self.child = child
        self.pid = child.pid
        self.stdout: IO[bytes] | None = child.output
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.child.poll()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(DRIVER_MODULE, timeout or 0.0)
            time.sleep(POLL_S)
        return code

    def end(self, grace_s: float) -> None:
        """SIGKILL its process group (it holds nothing that needs a graceful end); reaped on return."""
        self.child.end(signal.SIGKILL, grace_s)
        self.poll()


_SERVERS: list[ForkServer] = []
"""The server of the run in progress (at most one), while :func:`drivers_forked` runs."""
_LOCK = threading.Lock()


@contextlib.contextmanager
def drivers_forked(env: Mapping[str, str], registry: PidRegistry | None, log_path: Path) -> Iterator[None]:
    """Within the block, drivers started early are forked from one server, started now so that it imports
    Locust while the run starts its proxy and its first targets; ended with the block. ``env`` is the
    server's environment (each child gets its own), ``log_path`` takes what the server itself says."""
    server = ForkServer(sys.executable, DRIVER_MODULE, env, start_timeout_s=SERVER_ANSWER_S,
                        registry=registry, log_path=log_path)  # fmt: skip
    server.acquire()
    with _LOCK:
        _SERVERS.append(server)
    try:
        server.start()
        yield
    finally:
        with _LOCK:
            _SERVERS.remove(server)
        server.release()


def fork_driver(args: list[str], env: Mapping[str, str], errors: IO[bytes]) -> ForkedDriver | None:
    """A driver with ``args`` forked from the run's server, its stderr to ``errors``; None outside
    :func:`drivers_forked` (the caller starts a fresh process then)."""
    with _LOCK:
        server = _SERVERS[-1] if _SERVERS else None
    if server is None:
        return None
    return ForkedDriver(server.spawn(args, env, errors))
