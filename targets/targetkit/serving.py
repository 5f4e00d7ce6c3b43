"""Serving a target with uvicorn: one worker, logs on stdout, no access log.

One worker because in-flight Idempotency-Keys are tracked in memory, and because the harness's crash
faults must kill the whole service with one signal. Logs go to stdout so the process runtime captures
a single stream per target. uvicorn is imported with this module, not when serving starts, so the
process runtime's fork server has imported it before each restart.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI

from targets.targetkit.config import TargetConfig

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
                timeout_graceful_shutdown=2)
