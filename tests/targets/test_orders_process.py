"""The orders and inventory scripts as the harness runs them: HARNESS_WORK_MS widens the check-then-act
window until two overlapping attempts duplicate; a missing store variable ends the start with status 2."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness.runtime.process import target_command, target_env

ORDER = {"sku": "sku-1", "quantity": 1, "customer": "cus_1", "reference": "op-1"}
RESERVE = {"sku": "sku-1", "quantity": 1, "reference": "op-1"}
WORK_MS = "1500"  # far wider than the gap between two requests sent together, even on a busy machine


def _two_at_once(base_url: str, path: str, body: dict[str, Any]) -> list[int]:
    def post(_: int) -> int:
        return httpx.post(f"{base_url}{path}", json=body, headers={"Idempotency-Key": "k-1"},
                          timeout=10).status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(post, range(2)))


@pytest.mark.parametrize(("name", "variant", "path", "body", "effects"), [
    ("orders", "broken-check-then-act", "/orders", ORDER, 2),
    ("inventory", "broken-check-then-act", "/reservations", RESERVE, 2),
])
def test_work_ms_lets_two_overlapping_attempts_duplicate(
        start_target: Any, name: str, variant: str, path: str, body: dict[str, Any], effects: int) -> None:
    target = start_target(name, variant, env={"HARNESS_WORK_MS": WORK_MS})
    assert _two_at_once(target.base_url, path, body) == [201, 201]
    assert [effect["reference"] for effect in target.effects()] == ["op-1"] * effects


@pytest.mark.parametrize(("name", "variant", "variable"), [
    ("orders", "idempotent-postgres", "HARNESS_POSTGRES_DSN"),
    ("orders", "broken-postgres-no-lock", "HARNESS_POSTGRES_DSN"),
    ("payments", "idempotent-redis", "HARNESS_REDIS_URL"),
])
def test_a_missing_store_variable_exits_2_naming_it(tmp_path: Path, name: str, variant: str,
                                                    variable: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    result = subprocess.run(
        [*target_command(name), "--port", "1", "--variant", variant,
         "--db", str(tmp_path / "t.db")],
        cwd=tmp_path, env=target_env(env), capture_output=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == [
        f"app.py: error: {variable} is not set: variant '{variant}' keeps its data in "
        f"{'Postgres' if 'POSTGRES' in variable else 'Redis'}"]
