"""A crash right after the charge commits, with the key in Redis: the idempotent variant's marker keeps
refusing retries (409) rather than charging again; the key-after-effect variant charges twice."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CHARGE = {"amount": 700, "currency": "usd", "customer": "cus_9", "reference": "op-crash"}
CRASH_EXIT_STATUS = 17


def _post(base_url: str) -> httpx.Response:
    return httpx.post(f"{base_url}/charges", json=CHARGE, headers={"Idempotency-Key": "key-1"}, timeout=10)


@pytest.mark.parametrize(("variant", "retry_status", "charges"), [
    ("idempotent-redis", 409, 1),
    ("broken-redis-key-after-effect", 201, 2),
])
def test_retry_after_a_crash_after_commit(start_target: Any, redis_env: dict[str, str], variant: str,
                                          retry_status: int, charges: int) -> None:
    crashing = start_target("payments", variant,
                            env={**redis_env, "HARNESS_FAILPOINTS": "after_commit_before_response=1"})
    with pytest.raises(httpx.TransportError):
        _post(crashing.base_url)
    assert crashing.process.wait(timeout=10) == CRASH_EXIT_STATUS

    restarted = start_target("payments", variant, env=redis_env, incarnation=1)
    retry = _post(restarted.base_url)
    effects = restarted.effects()
    assert retry.status_code == retry_status
    assert [effect["reference"] for effect in effects] == ["op-crash"] * charges
