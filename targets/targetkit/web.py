"""The common skeleton of a reference target's FastAPI app: health route, problem+json errors, slow work."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI

from targets.targetkit.problems import install_problem_handlers


def new_app(title: str, variant: str) -> FastAPI:
    """A FastAPI app with `GET /health` (the harness's readiness probe) and problem+json errors."""
    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    install_problem_handlers(app)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "variant": variant}

    return app


def simulated_work(work_ms: int) -> Callable[[], None]:
    """The HARNESS_WORK_MS knob: a blocking pause standing in for slow processing before the commit.

    It blocks a worker thread rather than the event loop, so other requests keep being served, and a
    concurrent retry of the same key sees the first one in flight.
    """
    def work() -> None:
        if work_ms > 0:
            time.sleep(work_ms / 1000)

    return work
