"""Ending a child process by its own pid: a polite signal, then SIGKILL if it lingers.

Shared by targets run as processes, store servers, the embedded fault proxy and the benchmark's
servers, so every child the harness starts is ended the same bounded way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess

DEFAULT_GRACE_S = 3.0


def end_process(
    process: subprocess.Popen[bytes],
    first_signal: signal.Signals = signal.SIGTERM,
    grace_s: float = DEFAULT_GRACE_S,
) -> None:
    """Send ``first_signal``; SIGKILL if the process has not ended ``grace_s`` later. No-op if ended."""
    if process.poll() is not None:
        return
    try:
        os.kill(process.pid, first_signal)
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:  # it ended between the poll and the signal
        pass
