"""The proxy server: control API and data plane in one asyncio loop, in its own process or thread.

``serve`` is the blocking entry point behind ``python -m harness.proxy`` and ``harness proxy``;
``ProxyServer`` is the same server for code that owns a loop (``background.py`` runs one in a thread).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import sys
from pathlib import Path

from aiohttp import web

from harness.errors import HarnessError, PortInUseError
from harness.proxy import apilog
from harness.proxy.addresses import is_loopback, join_hostport
from harness.proxy.api import HEAD_TIMEOUT_S, build_app
from harness.proxy.apierror import ApiError
from harness.proxy.collection import ProxyCollection
from harness.proxy.jsonbody import parse_json
from harness.proxy.options import DEFAULT_HOST, DEFAULT_PORT

log = logging.getLogger(__name__)


class ProxyServer:
    """Control API plus every proxy it creates, bound to the running loop."""

    def __init__(
        self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, allow_remote: bool = False
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise HarnessError(
                f"API host {host!r} is not loopback; pass --allow-remote to serve the API beyond this machine"
            )
        self.host = host
        self.port = port
        self.collection = ProxyCollection(allow_remote=allow_remote)
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{join_hostport(self.host, self.port)}"

    async def start(self) -> str:
        """Bind the API (port 0: the OS picks) and return its URL."""
        apilog.install()
        self._runner = web.AppRunner(
            build_app(self.collection),
            access_log=None,
            handle_signals=False,
            keepalive_timeout=HEAD_TIMEOUT_S,  # aiohttp closes a connection waiting this long for a head
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError(self.host, self.port, "fault proxy API address") from None
            raise HarnessError(f"fault proxy API cannot listen on {self.host}:{self.port}: {exc}") from None
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        return self.url

    async def populate_from(self, config: Path) -> int:
        """Create the proxies listed in a JSON file (Toxiproxy's ``-config``); one-line errors."""
        try:
            body = parse_json(config.read_bytes())
        except OSError as exc:
            raise HarnessError(f"proxy config {config}: cannot read: {exc.strerror or exc}") from None
        except ApiError as exc:
            raise HarnessError(f"proxy config {config}: {exc.message}") from None
        try:
            async with self.collection.lock:
                proxies = await self.collection.populate(body)
        except ApiError as exc:
            raise HarnessError(f"proxy config {config}: {exc.message}") from None
        return len(proxies)

    async def stop(self) -> None:
        await self.collection.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def install_uvloop() -> None:
    """Use uvloop when it is importable: the data plane is noticeably faster on it."""
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    allow_remote: bool = False,
    config: Path | None = None,
    ready_file: Path | None = None,
    exit_with_parent: bool = False,
) -> None:
    """Run the server until SIGINT/SIGTERM; print the API URL once it answers.

    ``ready_file`` receives the URL too (written atomically), for a parent that spawned us with
    port 0; ``exit_with_parent`` ends the server if the parent process disappears (no orphans).
    Raises HarnessError (one line) when the server cannot start.
    """
    install_uvloop()
    asyncio.run(_serve(host, port, allow_remote, config, ready_file, exit_with_parent))


async def _serve(
    host: str,
    port: int,
    allow_remote: bool,
    config: Path | None,
    ready_file: Path | None,
    exit_with_parent: bool,
) -> None:
    server = ProxyServer(host, port, allow_remote)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    parent = os.getppid()
    try:
        url = await server.start()
        if config is not None:
            count = await server.populate_from(config)
            log.info("populated %d proxies from %s", count, config)
        if ready_file is not None:
            partial = ready_file.with_name(ready_file.name + ".tmp")
            partial.write_text(url)
            partial.replace(ready_file)
        print(f"fault proxy API listening on {url}", flush=True)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if exit_with_parent and os.getppid() != parent:
                print("parent process gone; stopping", file=sys.stderr, flush=True)
                break
    finally:
        await server.stop()
