"""Signals during a run: SIGTERM interrupts like Ctrl-C, and only the first of them does."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

Handler = Callable[[int, FrameType | None], object]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""What ends a command: Ctrl-C in a terminal, SIGTERM from a CI runner, systemd or ``kill``."""


@contextmanager
def on_stop_signals(handler: Handler) -> Iterator[None]:
    """``handler`` for SIGINT and SIGTERM inside the block, whatever was there put back after it."""
    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, earlier in previous.items():
            signal.signal(signum, earlier)

STILL_STOPPING = "still stopping what the run started (if it hangs: kill -9 it, then `harness clean`)\n"


@contextmanager
def interrupts_once() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C, and only the first of them does.

    A CI runner's stop cleans up as Ctrl-C does; a second Ctrl-C or SIGTERM while the run tears down
    (an impatient user, a runner that signals twice) only says it is still stopping, instead of
    cutting the teardown short and leaving a target, a store or the proxy behind.
    """

    def _later(signum: int, frame: FrameType | None) -> None:
        sys.stderr.write(STILL_STOPPING)

    def _first(signum: int, frame: FrameType | None) -> None:
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, _later)
        raise KeyboardInterrupt

    with on_stop_signals(_first):
        yield
