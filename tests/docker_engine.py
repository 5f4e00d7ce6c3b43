"""The Docker engine for the tests that need one, and what a run left behind in it.

On CI (CI=true) a missing engine fails such tests (``.ci/ensure-docker`` starts one); elsewhere they
are skipped with the reason (the ``engine`` fixture of ``tests/conftest.py`` calls :func:`connect_or_skip`).
"""

from __future__ import annotations

import os

import pytest
from docker import DockerClient

from harness.errors import DockerUnavailableError
from harness.runtime.engine import connect, run_filter


def connect_or_skip() -> DockerClient:
    """A client of the engine; without one, the test is skipped (failed on CI) with the reason."""
    try:
        return connect(10)
    except DockerUnavailableError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must have a Docker engine (run .ci/ensure-docker): {error}")
        pytest.skip(str(error))


def leftovers(engine: DockerClient, run_id: str) -> list[str]:
    """Names of containers and volumes still labelled with ``run_id``."""
    filters = run_filter(run_id)
    containers = [c.name for c in engine.containers.list(all=True, filters=filters)]
    return containers + [v.name for v in engine.volumes.list(filters=filters)]
