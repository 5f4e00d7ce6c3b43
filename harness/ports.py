"""Loopback ports: find a free one, tell a taken one apart from a free one, and start a server on one."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

from harness.errors import PortRaceLost

LOOPBACK = "127.0.0.1"

PORT_ATTEMPTS = 3
"""How often a start is tried on a new free port when the one it was given got taken meanwhile."""

FRESH_PORT_PICKS = 64
"""How many ports :func:`free_port` asks the kernel for before it gives one it handed out before."""

_Started = TypeVar("_Started")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def join_hostport(host: str, port: int) -> str:
    """``host:port``, with an IPv6 host in brackets (``[::1]:8080``) as URLs and listen addresses want."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_handed_out: set[tuple[str, int]] = set()
_handed_out_lock = threading.Lock()


def free_port(host: str = LOOPBACK) -> int:
    """A port that was free a moment ago; the caller must cope with losing a race for it.

    Never the same one twice in this process: cells that run at once each pick ports for their
    target, and the kernel may offer a port again as soon as its probe closes, before the first
    picker's server has bound it (or while a crashed target, whose port its restart reuses, is down).
    Another process may still take it: :func:`on_free_port` retries that race.
    """
    with _handed_out_lock:
        for _ in range(FRESH_PORT_PICKS):
            port = _unbound_port(host)
            if (host, port) not in _handed_out:
                break
        _handed_out.add((host, port))  # after as many picks, one handed out before: on_free_port copes
        return port


def _unbound_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def is_port_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether nothing listens on ``host:port`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def looks_like_port_race(log: str) -> bool:
    """Whether a server's log says it could not bind its port (as when another process took it)."""
    lowered = log.lower()
    return "address already in use" in lowered or "eaddrinuse" in lowered


def on_free_port(start: Callable[[int], _Started], *, port: int | None = None) -> _Started:
    """``start(port)`` on a free loopback port, or on ``port`` when one is fixed (tried once).

    A free port can be taken between our probe and the server's bind: when ``start`` raises a
    :class:`~harness.errors.PortRaceLost` error, it is tried again on a new port, at most
    :data:`PORT_ATTEMPTS` times in all.
    """
    if port is not None:
        return start(port)
    for _ in range(PORT_ATTEMPTS - 1):
        try:
            return start(free_port())
        except PortRaceLost:
            continue
    return start(free_port())
