"""The fault proxy: Toxiproxy 2.x's HTTP API and toxics, plus per-request HTTP toxics.

Public surface (everything else is implementation):

* ``serve(host, port, allow_remote, config)``: run the server in this process until a signal;
* ``EmbeddedProxy.start(log_path)``: the server as a child process, for a harness run;
* ``ProxyClient(url)`` / ``ProxyInfo``: a synchronous client for it or for a real Toxiproxy;
* ``BackgroundProxyServer``: the server in a thread, for tests;
* ``register`` / ``Toxic``: how a toxic type is added (one module in ``harness/proxy/toxics/``).

The server side (aiohttp, uvloop) is imported only when used, so importing the client stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.proxy.client import HTTP_TOXICS, ProxyClient, ProxyInfo
from harness.proxy.embedded import EmbeddedProxy

if TYPE_CHECKING:
    from harness.proxy.background import BackgroundProxyServer
    from harness.proxy.toxics import Toxic, register

__all__ = [
    "HTTP_TOXICS",
    "BackgroundProxyServer",
    "EmbeddedProxy",
    "ProxyClient",
    "ProxyInfo",
    "Toxic",
    "register",
    "serve",
]


def serve(
    host: str = "127.0.0.1",
    port: int = 8474,
    allow_remote: bool = False,
    config: Path | None = None,
) -> None:
    """Run the fault proxy server here until SIGINT/SIGTERM (``harness proxy``); HarnessError if it cannot."""
    from harness.proxy.server import serve as _serve

    _serve(host, port, allow_remote, config)


def __getattr__(name: str) -> object:
    if name == "BackgroundProxyServer":
        from harness.proxy.background import BackgroundProxyServer

        return BackgroundProxyServer
    if name in ("Toxic", "register"):
        from harness.proxy import toxics

        return getattr(toxics, name)
    raise AttributeError(f"module 'harness.proxy' has no attribute {name!r}")
