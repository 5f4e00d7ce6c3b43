"""The standalone server's command-line options, shared by ``harness proxy`` and ``python -m harness.proxy``.

Imports nothing of the server (aiohttp, uvloop), so the harness CLI can offer them at no start-up cost.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from harness.arguments import MAX_PORT, whole_number

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8474
"""Toxiproxy's own default API address."""


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """``--host``, ``--port``, ``--allow-remote``, ``--config``, ``--verbose``."""
    parser.add_argument("--host", default=DEFAULT_HOST, help="API address (default %(default)s)")
    parser.add_argument(
        "--port",
        type=whole_number(0, MAX_PORT),
        default=DEFAULT_PORT,
        help="API port, 0 for any (default %(default)s)",
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow non-loopback API and listen addresses"
    )
    parser.add_argument("--config", type=Path, help="JSON list of proxies to create at start")
    parser.add_argument("--verbose", action="store_true", help="log each upstream failure")


def configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
