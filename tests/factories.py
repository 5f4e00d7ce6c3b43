"""Hand-made model objects and stand-ins for tests: write down only what a test is about."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from harness.load.config import LoadCellConfig
from harness.scenario import LoadSpec, RetryPolicySpec
from harness.verdict import CellVerdict

ZERO_CELL = CellVerdict.empty("", "")
"""Nothing counted; the interval is the checker's for no operations."""


def cell_verdict(variant: str, fault: str, **fields: Any) -> CellVerdict:
    """A cell of ``variant`` × ``fault`` with ``fields`` set and every other count zero.

    ``duplicate_rate`` follows ``ops_with_duplicates`` over ``operations`` unless it is given.
    """
    made = dataclasses.replace(ZERO_CELL, variant=variant, fault=fault, **fields)
    if "duplicate_rate" in fields or not made.operations:
        return made
    return dataclasses.replace(made, duplicate_rate=made.ops_with_duplicates / made.operations)


class SimulatedCrash(Exception):
    """Stands in for os._exit in unit tests: raised at a failpoint, it abandons the request there."""


def simulated_crash() -> None:
    """A ``Failpoints(crash=...)`` hook that raises :class:`SimulatedCrash` instead of ending the process."""
    raise SimulatedCrash


def both_at_once() -> Callable[[], None]:
    """Work that returns only once two requests are inside it: both have read (or passed any check)
    before either writes."""
    barrier = threading.Barrier(2, timeout=10)  # breaks, failing the test, unless both arrive

    def work() -> None:
        barrier.wait()

    return work


async def effects_of(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """A target's ``GET /effects``, which must answer 200."""
    response = await client.get("/effects")
    assert response.status_code == 200
    effects: list[dict[str, Any]] = response.json()
    return effects


def load_cell(base_url: str, tmp_path: Path, op_id_prefix: str, **changes: Any) -> LoadCellConfig:
    """A small, quick load cell (naive, fault ``drop``) writing its history under ``tmp_path``.

    ``changes`` replace any field, of the cell or of its ``load`` (``operations=4``, ``retry=...``);
    the retry policy gives up fast so a test's faults show at once.
    """
    load: dict[str, Any] = {
        "operations": 30,
        "users": 4,
        "spawn_rate": 100.0,
        "max_duration_s": 20.0,
        "retry": RetryPolicySpec(max_attempts=3, timeout_s=0.5, backoff_base_s=0.01, backoff_max_s=0.05),
        "amount_min": 100,
        "amount_max": 200,
    }
    cell: dict[str, Any] = {
        "base_url": base_url,
        "variant": "naive",
        "fault": "drop",
        "seed": 11,
        "history_path": str(tmp_path / "history.jsonl"),
        "op_id_prefix": op_id_prefix,
    }
    for name, value in changes.items():
        (load if name in LoadSpec.model_fields else cell)[name] = value
    return LoadCellConfig.model_validate({**cell, "load": LoadSpec.model_validate(load)})
