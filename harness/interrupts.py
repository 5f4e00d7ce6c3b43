"""Signals during a run: SIGTERM interrupts like Ctrl-C, and only the first of them does."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

STILL_STOPPING = "still stopping what the run started (if it hangs: kill -9 it, then `harness clean`)\n"


@contextmanager
def interrupts_once() -> Iterator[None]:
    """SIGTERM interrupts like Ctrl-C, and only the first of them does.

    A CI runner's stop cleans up as Ctrl-C does; a second Ctrl-C or SIGTERM while the run tears down
    (an impatient user, a runner that signals twice) only says it is still stopping, instead of
    cutting the teardown short and leaving a target, a store or the proxy behind.
    """
    import signal

    def _later(signum: int, frame: object) -> None:
        sys.stderr.write(STILL_STOPPING)

    def _first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, _later)
        signal.signal(signal.SIGTERM, _later)
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, _first) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
