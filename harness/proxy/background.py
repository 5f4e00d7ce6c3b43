"""The proxy server in a thread with its own event loop: for tests and in-process tools.

Fast to start (no subprocess), and still a real server on real sockets. The harness itself uses
``EmbeddedProxy`` (a subprocess), because the load driver's gevent patching must not meet asyncio.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from types import TracebackType

from harness.proxy.server import ProxyServer


class BackgroundProxyServer:
    """``with BackgroundProxyServer() as server: server.url``; stops and joins on exit."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False) -> None:
        self._server_args = (host, port, allow_remote)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.server: ProxyServer | None = None
        self.url = ""

    def start(self) -> BackgroundProxyServer:
        ready: concurrent.futures.Future[str] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(ready,), name="fault-proxy", daemon=True)
        self._thread.start()
        self.url = ready.result(timeout=30)
        return self

    def _run(self, ready: concurrent.futures.Future[str]) -> None:
        try:
            import uvloop

            loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self.server = ProxyServer(*self._server_args)
            ready.set_result(loop.run_until_complete(self.server.start()))
        except BaseException as exc:
            ready.set_exception(exc)
            loop.close()
            return
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.server.stop())
            loop.run_until_complete(_cancel_pending())
            loop.close()

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)

    def __enter__(self) -> BackgroundProxyServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


async def _cancel_pending() -> None:
    """Cancel the tasks still running on this loop and wait for them to end.

    Gathered inside the loop: ``asyncio.gather`` called outside it asks for the thread's current event
    loop, which code run on the loop may have unset by then."""
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
