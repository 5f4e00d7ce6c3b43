"""The reference targets as conformance subjects: one process per variant, ended by its pid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.runtime.process import ProcessRuntime, ProcessTarget

WORK_MS = "300"
"""Processing delay of the payments targets: long enough that concurrent requests meet the first one in
flight. The orders targets get none: the method checks send one request at a time."""

StartTarget = Callable[[str], ProcessTarget]


def _starting(target: str, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[StartTarget]:
    """Starts ``targets/<target>`` as a variant on a free loopback port; stops all when closed."""
    started: list[ProcessTarget] = []

    def start(variant: str) -> ProcessTarget:
        folder: Path = tmp_path_factory.mktemp(f"conform-{target}-{variant}")
        process = ProcessRuntime().start(target, variant, folder, folder / "target.log", env)
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            process.stop()


@pytest.fixture(scope="module")
def start_payments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartTarget]:
    """``targets/payments`` per variant, with a processing delay concurrent requests meet."""
    yield from _starting("payments", {"HARNESS_WORK_MS": WORK_MS}, tmp_path_factory)


@pytest.fixture(scope="module")
def start_orders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartTarget]:
    """``targets/orders`` per variant (GET/HEAD/PUT/PATCH/DELETE/OPTIONS of one order)."""
    yield from _starting("orders", {}, tmp_path_factory)
