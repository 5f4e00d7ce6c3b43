"""Waiting on a condition, never on the clock: how tests stay independent of the machine's speed.

A test that sleeps a fixed time and then looks passes on one machine and fails on a slower or busier
one. Tests poll for what they expect instead, up to a deadline generous enough for a loaded 2-core
machine; the deadline only bounds a wait that fails anyway, it says nothing about how fast it went.
"""

from __future__ import annotations

import time
from collections.abc import Callable

WAIT_S = 30.0
"""How long a test waits for something that is expected to happen; only a broken run waits this long."""

POLL_S = 0.02


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = WAIT_S) -> None:
    """Return as soon as ``condition()`` is true; fail the test, naming ``what``, after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        time.sleep(POLL_S)
