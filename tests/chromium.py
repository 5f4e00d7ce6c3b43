"""Headless Chromium driven over the DevTools protocol, to look at a page as a reader's browser lays it out.

One browser per test module, on a loopback debugging port it picks itself (``--remote-debugging-port=0``;
the port is read from ``DevToolsActivePort`` in its profile folder). Each look opens a websocket to the
page with aiohttp (already a dependency), sets the viewport width, loads a ``file://`` URL, evaluates a
JavaScript expression and saves a full-page screenshot. Every wait is bounded; the browser is ended by
the pid this module started, its helper processes with its process group.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from waiting import WAIT_S, wait_until

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome")
VIEWPORT_HEIGHT = 900
MAX_SHOT_HEIGHT = 16_000
"""Chromium refuses larger captures; a longer page is cut there (the top holds what matters)."""

FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Headless, no sandbox (tests may run as root), and nothing that would reach the network by itself."""


def find_browser() -> str | None:
    """The Chromium executable on PATH, if any."""
    return next((path for name in BROWSER_NAMES if (path := shutil.which(name))), None)


@dataclass(frozen=True)
class Look:
    """What one look at a page found: the expression's value and where its screenshot is."""

    value: Any
    screenshot: Path


@dataclass(frozen=True)
class Browser:
    """A running headless Chromium: its debugging port on loopback."""

    port: int

    def look(self, url: str, width: int, expression: str, screenshot: Path) -> Look:
        """Load ``url`` in a viewport ``width`` CSS pixels wide, evaluate ``expression`` (its value must
        be JSON) and save a full-page PNG to ``screenshot``."""
        return asyncio.run(self._look(url, width, expression, screenshot))

    async def _look(self, url: str, width: int, expression: str, screenshot: Path) -> Look:
        async with asyncio.timeout(WAIT_S), aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{self.port}/json/list") as response:
                targets = await response.json()
            page_url = next(target["webSocketDebuggerUrl"] for target in targets if target["type"] == "page")
            async with http.ws_connect(page_url, max_msg_size=0) as socket:
                page = _Session(socket)
                await page.call("Page.enable")
                metrics = {"width": width, "height": VIEWPORT_HEIGHT, "deviceScaleFactor": 1, "mobile": False}
                await page.call("Emulation.setDeviceMetricsOverride", **metrics)
                await page.call("Page.navigate", url=url)
                await page.event("Page.loadEventFired")
                evaluated = await page.call("Runtime.evaluate", expression=expression, returnByValue=True)
                if "exceptionDetails" in evaluated:
                    raise AssertionError(
                        f"the expression failed in the page: {evaluated['exceptionDetails']}"
                    )
                size = (await page.call("Page.getLayoutMetrics"))["cssContentSize"]
                clip = {
                    "x": 0,
                    "y": 0,
                    "width": width,
                    "height": min(size["height"], MAX_SHOT_HEIGHT),
                    "scale": 1,
                }
                shot = await page.call(
                    "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
                )
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        return Look(evaluated["result"].get("value"), screenshot)


class _Session:
    """Commands and events on one DevTools websocket; events that arrive early are kept for later."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.events: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self.ids)
        await self.socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await self.socket.receive_json()
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result
            if "method" in message:
                self.events.append(message["method"])

    async def event(self, method: str) -> None:
        while method not in self.events:
            message = await self.socket.receive_json()
            if "method" in message:
                self.events.append(message["method"])


@contextmanager
def running_browser(executable: str, folder: Path) -> Iterator[Browser]:
    """Chromium started with a fresh profile in ``folder``; ended (with its helpers) on exit."""
    profile = folder / "profile"
    profile.mkdir(parents=True)
    port_file = profile / "DevToolsActivePort"
    with (folder / "chromium.log").open("wb") as log:
        process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            lambda: process.poll() is not None or len(_lines(port_file)) >= 2,
            "Chromium to open its debugging port",
        )
        if process.poll() is not None:
            raise AssertionError(f"Chromium exited with {process.returncode}; see {folder / 'chromium.log'}")
        yield Browser(int(_lines(port_file)[0]))
    finally:
        _end(process)


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").split()
    except FileNotFoundError:
        return []


def _end(process: subprocess.Popen[bytes]) -> None:
    """Stop the browser by its pid, then whatever helper of its group outlived it."""
    process.terminate()
    try:
        process.wait(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=WAIT_S)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
