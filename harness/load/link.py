"""What the orchestrator learns of a running load, and how it lets a held load end.

The nemesis measures its crash schedule from the load's first operation and kills only while an
attempt is in flight; the load driver runs in another process, so it tells both through its progress
lines, which :func:`harness.load.config.run_driver` hands to a :class:`LoadLink` as they come. When
the nemesis has crashes to make, the load is *held*: it keeps issuing operations past its budget
(bounded by ``max_duration_s``) until :meth:`LoadLink.release`, so that no planned crash falls after
the last operation. Once every gate of the cell is decided (:mod:`harness.cell_watch`),
:meth:`LoadLink.stop` ends it early: no operation starts, those in flight end. Imports no Locust: the
orchestrator's side.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from harness.load.config import ProgressLine


class _Once:
    """Something that happens once (a release, a stop), with callbacks waiting for it; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.happened = False
        self._callbacks: list[Callable[[], None]] = []

    def then(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once it happens (at once if it already has)."""
        with self._lock:
            if not self.happened:
                self._callbacks.append(callback)
                return
        callback()

    def happen(self) -> None:
        """Make it happen and call the waiting callbacks (idempotent)."""
        with self._lock:
            if self.happened:
                return
            self.happened = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class LoadLink:
    """One cell's load as the nemesis sees it; safe to share between threads.

    ``holds``: whether the load is to run on past its budget until :meth:`release`.
    """

    def __init__(self, holds: bool = False) -> None:
        self.holds = holds
        self._changed = threading.Condition()
        self._origin: float | None = None
        self.first_op_at: float | None = None
        """When the load's first operation started (``time.time()``), once a line has said so."""
        self._in_flight = 0
        self._ended = False
        self._release = _Once()
        self._stop = _Once()

    # -- the load's side (run_driver) ---------------------------------------------------------------

    def observe(self, line: ProgressLine) -> None:
        """A progress line from the driver: when the load began, and what is in flight now."""
        with self._changed:
            if line.first_op_at is not None and self._origin is None:
                self.first_op_at = line.first_op_at
                # the driver's wall clock, turned into this process's monotonic clock once
                self._origin = time.monotonic() - max(0.0, time.time() - line.first_op_at)
            self._in_flight = line.in_flight
            self._changed.notify_all()

    def end(self) -> None:
        """The load is over: nothing will be in flight again."""
        with self._changed:
            self._ended = True
            self._in_flight = 0
            self._changed.notify_all()

    def on_release(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the load is released (at once if it already is)."""
        self._release.then(callback)

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the load is told to stop (at once if it already is)."""
        self._stop.then(callback)

    # -- the nemesis's side ------------------------------------------------------------------------

    def release(self) -> None:
        """Let a held load end once its budget is done (idempotent)."""
        self._release.happen()

    @property
    def released(self) -> bool:
        return self._release.happened

    # -- the orchestrator's side (harness.cell) ----------------------------------------------------

    def stop(self) -> None:
        """Start no more operations; those in flight run to their end (idempotent): the cell's gates
        are decided, and more operations would only confirm them."""
        self._stop.happen()

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def in_flight(self) -> int:
        """Attempts in flight as last reported (operations in flight from a distributed master)."""
        return self._in_flight

    def elapsed_s(self) -> float | None:
        """Seconds since the load's first operation started; ``None`` before it has."""
        origin = self._origin
        return None if origin is None else time.monotonic() - origin
