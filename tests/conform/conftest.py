"""The reference payments target as a conformance subject: one process per variant, ended by its pid."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.runtime.process import ProcessRuntime, ProcessTarget

WORK_MS = "300"
"""Processing delay of the targets: long enough that concurrent requests meet the first one in flight."""

StartTarget = Callable[[str], ProcessTarget]


@pytest.fixture(scope="module")
def start_payments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartTarget]:
    """Starts ``targets/payments`` as a variant on a free loopback port; stops all at module end."""
    started: list[ProcessTarget] = []

    def start(variant: str) -> ProcessTarget:
        folder: Path = tmp_path_factory.mktemp(f"conform-{variant}")
        target = ProcessRuntime().start("payments", variant, folder, folder / "target.log",
                                        {"HARNESS_WORK_MS": WORK_MS})
        started.append(target)
        return target

    try:
        yield start
    finally:
        for target in started:
            target.stop()
