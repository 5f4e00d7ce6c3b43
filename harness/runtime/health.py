"""Waiting for a target to answer its health check, the same way under every runtime.

A start ends one of three ways: the health URL answers 200, the target dies first, or time runs out.
The last two are a ``TargetError`` whose message names the exit status or the URL and shows the tail
of the target's log, so the reason a target would not start is on the screen, not only in a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from harness.errors import TargetError, TargetPortTakenError
from harness.local_http import local_client
from harness.ports import looks_like_port_race
from harness.runtime.base import TargetInstance

HEALTH_POLL_S = 0.02
LOG_TAIL_LINES = 20


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last lines of a log file, for error messages that must show why a target failed."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    tail = text.strip().splitlines()[-lines:]
    return "\n".join(tail) if tail else "(log is empty)"


def is_healthy(url: str) -> bool:
    """Whether ``url`` answers 200 within half a second, through the harness's shared client (a client
    of its own per call costs tens of milliseconds, the check itself a fraction of one)."""
    try:
        return local_client().get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def wait_healthy(
    target: TargetInstance,
    url: str,
    timeout_s: float,
    *,
    what: str,
    log_path: Path,
    give_up: Callable[[bool], str],
) -> None:
    """Poll ``url`` until it answers 200 while ``target`` is alive.

    If the target dies first, or ``timeout_s`` passes, ``give_up(timed_out)`` ends what is left of
    this start and returns the log tail to show; then a TargetError names ``what`` and the reason.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not target.is_alive():
            code = target.exit_code()
            tail = give_up(False)
            raise _start_error(tail)(
                f"{what} exited with status {code} before it was healthy (log {log_path}):\n{tail}"
            )
        if is_healthy(url):
            return
        time.sleep(HEALTH_POLL_S)
    tail = give_up(True)
    raise _start_error(tail)(
        f"{what} did not answer {url} within {timeout_s:.0f} s (log {log_path}):\n{tail}"
    )


def _start_error(tail: str) -> type[TargetError]:
    """The error for a failed start: one the caller retries on another port if the log says so."""
    return TargetPortTakenError if looks_like_port_race(tail) else TargetError
