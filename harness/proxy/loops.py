"""A proxy whose upstream is its own listen address: every connection would open another, for ever.

Refused twice over: when the addresses are set (literal addresses, compared without any lookup), and
when a connection reaches its upstream (a name such as ``127.1`` that resolves to the proxy itself
is only known then).
"""

from __future__ import annotations

import ipaddress

_EVERY_INTERFACE = ("", "0.0.0.0", "::")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(host: str) -> IpAddress | None:
    if host == "localhost":
        host = "127.0.0.1"
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def dials_itself(listen: tuple[str, int], upstream: tuple[str, int]) -> bool:
    """Whether ``upstream`` (host, port) is the bound ``listen`` address, judged from literal addresses."""
    (listen_host, listen_port), (host, port) = listen, upstream
    ip = _ip(host)
    if ip is None or port != listen_port or port == 0:
        return False
    if ip.is_unspecified:  # connecting to 0.0.0.0 reaches this machine
        return True
    if listen_host in _EVERY_INTERFACE:
        return ip.is_loopback
    return ip == _ip(listen_host)


def reached_itself(listen: tuple[str, int], peer: tuple[str, int], local_host: str) -> bool:
    """Whether a connection from ``local_host`` that reached ``peer`` came back to the ``listen`` address."""
    (listen_host, listen_port), (peer_host, peer_port) = listen, peer
    if peer_port != listen_port:
        return False
    peer_ip = _ip(peer_host)
    if peer_ip is None:
        return False
    if listen_host in _EVERY_INTERFACE:
        return peer_ip.is_loopback or peer_ip == _ip(local_host)  # to this machine: same address both ends
    return peer_ip == _ip(listen_host)
