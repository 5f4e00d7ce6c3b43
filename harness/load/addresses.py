"""The address a remote worker sends its load to, given the one the master's cell proxy listens on.

Kept apart from :mod:`harness.load.distributed` because that module imports Locust, whose gevent
monkey patching must never reach the orchestrator's (or the test runner's) process.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from harness.ports import is_loopback

_WILDCARD_HOSTS = ("", "0.0.0.0", "::", "localhost")


def reachable_base_url(base_url: str, master_host: str) -> str:
    """The master's ``base_url`` as a worker reaches it: at ``master_host`` when its host is local.

    The master's proxy listens on its bind host; a wildcard or loopback host there means the master's
    own machine, which a worker reaches at the address it reached the master at. Any other host
    (a specific address of the master, or another machine's) is kept.
    """
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    local = host in _WILDCARD_HOSTS or is_loopback(host)
    if not local or host == master_host:
        return base_url
    netloc = f"[{master_host}]" if ":" in master_host else master_host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))
