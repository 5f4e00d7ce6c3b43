"""Shared by every test folder: puts ``tests/`` on ``sys.path`` so test modules can import
``factories`` (hand-made model objects), as they import nothing else from here; and the ``engine``
fixture of the tests that need a Docker engine.

Appended, not prepended, so no module in ``tests/`` can shadow an installed one. Tests run with
``--import-mode=importlib``, which does not add test folders to ``sys.path`` by itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from docker import DockerClient

_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.append(_TESTS_DIR)
# pytest-xdist's workers set COLUMNS=80; the command line's tests read its output as a CI log (120
# columns) reads, and those that test a width set it on their own console.
os.environ.pop("COLUMNS", None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Fail at once if a test module imported Locust into the test process.

    Locust patches the standard library with gevent on import; after ``ssl`` was imported (it is, by
    httpx) that patching recurses in ``SSLContext``, and which test breaks depends on collection order.
    The load driver runs Locust in its own process, and tests must import only its Locust-free parts.
    """
    if "locust" in sys.modules:
        raise pytest.UsageError(
            "a test module imported locust into the pytest process; import from harness.load's "
            "Locust-free modules (config, operations, retry, flow, addresses) instead"
        )


@pytest.fixture(scope="module")
def engine() -> Iterator[DockerClient]:
    """A client of the Docker engine; without one the test is skipped (failed on CI) with the reason."""
    from docker_engine import connect_or_skip  # imported here: most tests never touch Docker

    client = connect_or_skip()
    yield client
    client.close()


LONG_RUNNING = ("e2e/test_catalogue_scenarios.py", "e2e/", "runtime/")
"""Where the longest units of work are (whole scenario runs, image builds), longest first."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the long end-to-end modules first, keeping every module's tests together and in order.

    ``make test`` hands modules to parallel workers in collection order
    (``--dist loadscope --no-loadscope-reorder``): a long unit started last would leave the other
    workers idle while the whole suite waits for it.
    """
    def rank(item: pytest.Item) -> int:
        where = item.path.relative_to(_TESTS_DIR).as_posix()
        ranks = (rank for rank, prefix in enumerate(LONG_RUNNING) if where.startswith(prefix))
        return next(ranks, len(LONG_RUNNING))

    items.sort(key=rank)
