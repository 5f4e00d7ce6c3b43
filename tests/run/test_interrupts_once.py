"""Only the first Ctrl-C or SIGTERM interrupts a run: a second one cannot cut its teardown short."""

from __future__ import annotations

import os
import signal
import time

import pytest

from harness.interrupts import STILL_STOPPING, interrupts_once

BOUND_S = 5.0


def signal_self_and_wait(signum: signal.Signals) -> None:
    """Signal this process; its handler raises (or not) in this, the main, thread."""
    os.kill(os.getpid(), signum)
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.mark.parametrize("first", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_during_teardown_does_not_cut_it_short(
    capsys: pytest.CaptureFixture[str], first: signal.Signals
) -> None:
    torn_down: list[str] = []
    before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt), interrupts_once():
        try:
            signal_self_and_wait(first)
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # the impatient second Ctrl-C, mid-teardown
            torn_down.append("target")
            os.kill(os.getpid(), signal.SIGTERM)
            torn_down.append("proxy")
    assert time.monotonic() - started < BOUND_S, "the first signal did not interrupt"
    assert torn_down == ["target", "proxy"]
    assert capsys.readouterr().err == STILL_STOPPING * 2
    # the handlers are put back as they were (another test's event loop may have left its own)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
