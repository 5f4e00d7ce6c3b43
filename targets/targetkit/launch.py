"""The `main` of every reference target: its variants, failpoints and environment (queues, SMTP, brokers).

The app is built from the command line and the environment, so a bad `HARNESS_*` value ends the process
with status 2 and a message naming it, before anything is served (`targetkit.serving` serves it).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from fastapi import FastAPI

from targets.targetkit.config import TargetConfig, parse_config
from targets.targetkit.serving import serve

BAD_CONFIGURATION_STATUS = 2


def launch(build: Callable[[TargetConfig, Mapping[str, str]], FastAPI], *, description: str,
           variants: Sequence[str], known_failpoints: Collection[str],
           argv: Sequence[str] | None = None) -> None:
    """Parse the command line and environment, build the app with `build(config, environ)`, serve it."""
    config = parse_config(argv, os.environ, description=description, variants=variants,
                          known_failpoints=known_failpoints)
    try:
        app = build(config, os.environ)
    except ValueError as error:
        print(f"{Path(sys.argv[0]).name}: error: {error}", file=sys.stderr)
        raise SystemExit(BAD_CONFIGURATION_STATUS) from None
    serve(app, config)
