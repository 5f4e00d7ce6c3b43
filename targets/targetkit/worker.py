"""A background worker thread that a target runs beside its HTTP server, started by the app's lifespan.

Queue-backed targets answer `202 Accepted` and do the effect later, in a worker. The worker is a loop
around one `step()` that does at most one unit of work and says whether it found any, so tests can drive
the very same step by hand, without a thread and without timing. An exception in a step is logged and
followed by a pause, never the end of the loop: a broken SMTP server or broker must not silently stop a
target that still answers `/health`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

_log = logging.getLogger("targetkit.worker")

IDLE_WAIT_S = 0.05
ERROR_BACKOFF_S = 0.5
STOP_TIMEOUT_S = 2.0


class BackgroundWorker:
    """Runs `step` in a daemon thread until stopped; `step` returns True when it did some work."""

    def __init__(self, name: str, step: Callable[[], bool], *, idle_wait_s: float = IDLE_WAIT_S,
                 error_backoff_s: float = ERROR_BACKOFF_S) -> None:
        self.name = name
        self.step = step
        self._idle_wait_s = idle_wait_s
        self._error_backoff_s = error_backoff_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Ask the loop to end after its current step and wait a bounded time for it."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.step()
            except Exception:
                _log.exception("%s: step failed; retrying in %.1f s", self.name, self._error_backoff_s)
                self._stopping.wait(self._error_backoff_s)
                continue
            if not busy:
                self._stopping.wait(self._idle_wait_s)


def run_until_idle(step: Callable[[], bool], max_steps: int = 1000) -> int:
    """Call `step` until it finds no work (for tests and drains); returns the number of busy steps."""
    for done in range(max_steps):
        if not step():
            return done
    raise RuntimeError(f"still busy after {max_steps} steps")


def attach_workers(app: FastAPI, workers: Sequence[BackgroundWorker],
                   prepare: Callable[[], object] = lambda: None) -> None:
    """Start `workers` with the server (after `prepare`, which may fail start-up); stop them at exit.

    Hooked on the lifespan, not on app creation, so building an app in a test starts no thread.
    """
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        prepare()
        for worker in workers:
            worker.start()
        try:
            yield
        finally:
            for worker in workers:
                worker.stop()

    app.router.lifespan_context = lifespan
