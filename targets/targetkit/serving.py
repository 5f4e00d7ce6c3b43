"""Serving a target with uvicorn: one worker, logs on stdout, no access log.

One worker because in-flight Idempotency-Keys are tracked in memory, and because the harness's crash
faults must kill the whole service with one signal. Logs go to stdout so the process runtime captures
a single stream per target. uvicorn is imported with this module, not when serving starts, so the
process runtime's fork server has imported it before each restart; so are the modules uvicorn, anyio
and FastAPI import only once a process serves (its HTTP protocol, lifespan and event loop, anyio's
asyncio backend, pydantic.v1 for FastAPI's check of each route's models, the IDNA codec a socket's
host name goes through): every incarnation imported them again, about 0.1 s of CPU, until the fork
server had learned of them from a child that ran. No websocket protocol: no target serves one, and
choosing one imports a websocket library.
"""

from __future__ import annotations

import contextlib
import encodings.idna  # noqa: F401
from typing import Any

import anyio._backends._asyncio  # noqa: F401
import pydantic.v1  # noqa: F401
import uvicorn
import uvicorn.lifespan.on  # noqa: F401
import uvicorn.loops.auto  # noqa: F401
import uvicorn.protocols.http.auto  # noqa: F401
from fastapi import FastAPI

from targets.targetkit.config import TargetConfig

with contextlib.suppress(ImportError):  # the event loop uvicorn's "auto" picks where uvloop is installed
    import uvicorn.loops.uvloop  # noqa: F401
with contextlib.suppress(ImportError):  # a FastAPI with telemetry imports it as the app starts
    import fastapi.telemetry._runtime  # noqa: F401

LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "plain",
                            "stream": "ext://sys.stdout"}},
    "loggers": {
        "uvicorn": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
        "targetkit": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
    },
}


def serve(app: FastAPI, config: TargetConfig) -> None:
    uvicorn.run(app, host=config.host, port=config.port, log_config=LOG_CONFIG, access_log=False,
                ws="none", timeout_graceful_shutdown=2)
