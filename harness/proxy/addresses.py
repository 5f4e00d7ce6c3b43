"""Parsing and checking ``host:port`` strings of the API (``listen`` and ``upstream``)."""

from __future__ import annotations

import logging

from harness.ports import is_loopback, join_hostport
from harness.proxy.apierror import ApiError, bad_request

log = logging.getLogger(__name__)

_ANY_TO_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}
"""Every-interface hosts and the loopback address each is narrowed to without ``--allow-remote``."""

__all__ = ["check_listen", "is_loopback", "join_hostport", "split_hostport"]


def split_hostport(value: str, field: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` or ``"[::1]:8080"`` into host and port; 400 naming the field otherwise."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise bad_request(f"{field} must be host:port (got {value!r})")
    port = int(port_text)
    if port > 65535:
        raise bad_request(f"{field} port must be 0..65535 (got {port})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def check_listen(value: str, allow_remote: bool) -> tuple[str, int]:
    """The bind host and port of a ``listen`` value; loopback only unless remote access is allowed.

    An every-interface host (``0.0.0.0``, Chaos Toolkit's default) is narrowed to loopback rather
    than refused, so clients that send it work unchanged; the API's answer shows the real address.
    """
    host, port = split_hostport(value, "listen")
    if host == "localhost":
        host = "127.0.0.1"  # one socket, not one per address family with different ports
    if not allow_remote and host in _ANY_TO_LOOPBACK:
        log.info(
            "listen %r narrowed to %s (pass --allow-remote to listen beyond loopback)",
            value,
            _ANY_TO_LOOPBACK[host],
        )
        host = _ANY_TO_LOOPBACK[host]
    if not allow_remote and not is_loopback(host):
        raise ApiError(
            400,
            f"listen address {value!r} is not loopback; start the proxy with --allow-remote to expose "
            "proxies beyond this machine",
        )
    return host or "0.0.0.0", port
