"""Waiting for a target to answer its health check, the same way under every runtime.

A start ends one of four ways: the health URL answers 200 from the target's own port, the target dies
first, time runs out, or the answer came from another process holding the port (the target lost its
port in a race and will fail to bind; see :mod:`harness.port_holders`). The last three are a
``TargetError`` whose message names the exit status, the URL or the port's holder and shows the tail
of the target's log, so the reason a target would not start is on the screen, not only in a file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx

from harness.errors import TargetError, TargetPortTakenError
from harness.local_http import local_client
from harness.port_holders import lost_port
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
    serving_pids: Callable[[], Iterable[int]],
) -> None:
    """Poll ``url`` until it answers 200 while ``target`` is alive, then check that the sockets
    listening on the target's port are held by ``serving_pids()`` (the processes of this start).

    If the target dies first, or ``timeout_s`` passes, ``give_up(timed_out)`` ends what is left of
    this start and returns the log tail to show; then a TargetError names ``what`` and the reason.
    An answer from another process's socket is a :class:`TargetPortTakenError` (this start is ended
    first): a new start retries on another port, a restart on its fixed port fails, naming the holder.
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
            _own_port(target, what, log_path, serving_pids, give_up)
            return
        time.sleep(HEALTH_POLL_S)
    tail = give_up(True)
    raise _start_error(tail)(
        f"{what} did not answer {url} within {timeout_s:.0f} s (log {log_path}):\n{tail}"
    )


def _own_port(
    target: TargetInstance, what: str, log_path: Path, serving_pids: Callable[[], Iterable[int]],
    give_up: Callable[[bool], str],
) -> None:
    """Raise if another process listens on the port that answered the health check."""
    endpoint = target.endpoint
    lost = lost_port(what, endpoint.host, endpoint.port, serving_pids(), "the health check")
    if lost is not None:
        tail = give_up(True)
        raise TargetPortTakenError(f"{lost} (log {log_path}):\n{tail}")


def _start_error(tail: str) -> type[TargetError]:
    """The error for a failed start: one the caller retries on another port if the log says so."""
    return TargetPortTakenError if looks_like_port_race(tail) else TargetError
