"""The package's public surface is what ``__all__`` says, and every name resolves."""

from __future__ import annotations

import subprocess
import sys

import harness.proxy


def test_public_names() -> None:
    assert sorted(harness.proxy.__all__) == [
        "BackgroundProxyServer",
        "EmbeddedProxy",
        "HTTP_TOXICS",
        "ProxyClient",
        "ProxyInfo",
        "Toxic",
        "register",
        "serve",
    ]
    for name in harness.proxy.__all__:
        assert getattr(harness.proxy, name) is not None


def test_importing_the_client_does_not_load_the_server() -> None:
    code = "import sys, harness.proxy; print('aiohttp' in sys.modules, 'uvloop' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "False False"


def test_the_harness_command_line_loads_no_http_client_nor_server() -> None:
    """``harness --help`` and the ``harness proxy`` options must not pay for httpx or aiohttp."""
    code = "import sys, harness.cli; print(sorted({'httpx', 'aiohttp', 'uvloop'} & set(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"
