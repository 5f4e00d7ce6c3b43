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

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from harness.proxy.options import DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    from harness.proxy.background import BackgroundProxyServer
    from harness.proxy.client import HTTP_TOXICS, ProxyClient, ProxyInfo
    from harness.proxy.embedded import EmbeddedProxy
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
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allow_remote: bool = False,
    config: Path | None = None,
) -> None:
    """Run the fault proxy server here until SIGINT/SIGTERM (``harness proxy``); HarnessError if it cannot."""
    from harness.proxy.server import serve as _serve

    _serve(host, port, allow_remote, config)


_HOMES = {
    "HTTP_TOXICS": "client",
    "ProxyClient": "client",
    "ProxyInfo": "client",
    "EmbeddedProxy": "embedded",
    "BackgroundProxyServer": "background",
    "Toxic": "toxics",
    "register": "toxics",
}
"""Where each public name lives; imported on first use, so ``harness proxy`` options cost nothing."""


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'harness.proxy' has no attribute {name!r}")
    return getattr(importlib.import_module(f"harness.proxy.{home}"), name)
