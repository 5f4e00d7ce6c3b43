"""The checkout saga, four real processes per test: what each variant does to money and stock.

Conserved means: every charge of a saga that did not end `done` is refunded once, every reservation
released once, and the levels (balance, stock) match the ledger. Slowness comes from the participants'
CHECKOUT_SLOW_FIRST: the first request of a kind takes longer than the orchestrator's 300 ms call timeout
before it commits, the next ones do not.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path

import httpx
from checkout_cluster import Cluster, checkout_body, running_cluster
from waiting import wait_until

SLOW_MS = "700"
INITIAL_STOCK = 100


def _net_charged(cluster: Cluster) -> int:
    return sum(amount if kind == "charge" else -amount for kind, amount in cluster.kinds("payments"))


def test_idempotent_retried_steps_take_effect_once_and_the_checkout_replays(tmp_path: Path) -> None:
    slow = {"payments": {"CHECKOUT_SLOW_FIRST": f"charge={SLOW_MS},refund={SLOW_MS}"}}
    with running_cluster(tmp_path, "idempotent", participant_env=slow) as cluster:
        first = cluster.checkout(checkout_body("op-1"), key="k-1")
        replay = cluster.checkout(checkout_body("op-1"), key="k-1")
        refused = cluster.checkout(checkout_body("op-2", quantity=INITIAL_STOCK + 1), key="k-2")

        assert first.status_code == 201 and first.json()["status"] == "done"
        assert (replay.status_code, replay.headers["Idempotent-Replayed"]) == (201, "true")
        assert replay.json()["id"] == first.json()["id"]
        assert refused.status_code == 409 and refused.json()["saga"]["status"] == "compensated"
        assert [(s["status"], s["steps_done"], s["compensations_done"]) for s in cluster.sagas()] == [
            ("done", [1, 2, 3], []), ("compensated", [1], [1])]
        assert cluster.kinds("payments") == [("charge", 700), ("charge", 700), ("refund", 700)]
        assert cluster.kinds("inventory") == [("reserve", 2)]
        assert cluster.level("payments", "cus_1") == 700 == _net_charged(cluster)
        assert cluster.level("inventory", "sku_1") == INITIAL_STOCK - 2


def test_idempotent_orchestrator_crash_after_step_2_resumes_on_restart(tmp_path: Path) -> None:
    with running_cluster(tmp_path, "idempotent",
                         orchestrator_env={"HARNESS_FAILPOINTS": "after_step_2=1"}) as cluster:
        crashed = _checkout_until_the_orchestrator_dies(cluster, "k-1")
        cluster.orchestrator.restart()
        wait_until(lambda: [s["status"] for s in cluster.sagas()] == ["done"], "the saga to be resumed")
        retry = cluster.checkout(checkout_body("op-1"), key="k-1")

        assert crashed == 17
        assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (201, "true")
        assert cluster.kinds("payments") == [("charge", 700)]
        assert cluster.kinds("inventory") == [("reserve", 2)]
        assert cluster.kinds("shipping") == [("book", 1)]


def test_broken_no_saga_log_holds_the_reservation_after_an_orchestrator_crash(tmp_path: Path) -> None:
    with running_cluster(tmp_path, "broken-no-saga-log",
                         orchestrator_env={"HARNESS_FAILPOINTS": "after_step_2=1"}) as cluster:
        crashed = _checkout_until_the_orchestrator_dies(cluster, "k-1")
        cluster.orchestrator.restart()

        assert crashed == 17
        assert cluster.sagas() == []  # nothing left that could ever release it
        assert cluster.kinds("inventory") == [("reserve", 2)]
        assert cluster.level("inventory", "sku_1") == INITIAL_STOCK - 2
        assert cluster.kinds("payments") == [("charge", 700)]


def test_broken_compensation_not_idempotent_pays_a_retried_refund_twice(tmp_path: Path) -> None:
    slow = {"payments": {"CHECKOUT_SLOW_FIRST": f"refund={SLOW_MS}"}}
    with running_cluster(tmp_path, "broken-compensation-not-idempotent", participant_env=slow) as cluster:
        refused = cluster.checkout(checkout_body("op-1", quantity=INITIAL_STOCK + 1), key="k-1")
        wait_until(lambda: len(cluster.kinds("payments")) >= 3, "the retried refund to commit")

        assert refused.json()["saga"]["status"] == "compensated"
        assert cluster.kinds("payments")[:3] == [("charge", 700), ("refund", 700), ("refund", 700)]
        refund_keys = {row["idempotency_key"] for row in cluster.ledger("payments")[1:]}
        assert len(refund_keys) == 1  # one compensation, sent with one key, paid more than once
        assert cluster.level("payments", "cus_1") < 0


def test_broken_compensate_on_timeout_leaves_a_late_charge_without_refund(tmp_path: Path) -> None:
    slow = {"payments": {"CHECKOUT_SLOW_FIRST": f"charge={SLOW_MS}"}}
    with running_cluster(tmp_path, "broken-compensate-on-timeout", participant_env=slow) as cluster:
        response = cluster.checkout(checkout_body("op-1"), key="k-1")
        wait_until(lambda: ("charge", 700) in cluster.kinds("payments"), "the late charge to commit")

        assert response.json()["saga"]["status"] == "compensated"
        assert cluster.kinds("payments") == [("refund", 0), ("charge", 700)]  # the refund came first
        assert cluster.level("payments", "cus_1") == 700  # charged, for a saga that was compensated


def test_idempotent_compensation_fences_a_late_charge_out(tmp_path: Path) -> None:
    """The same timing as above, with so few attempts that the keyed orchestrator gives the charge up."""
    slow = {"payments": {"CHECKOUT_SLOW_FIRST": f"charge={SLOW_MS}"}}
    with running_cluster(tmp_path, "idempotent", participant_env=slow,
                         orchestrator_env={"CHECKOUT_STEP_ATTEMPTS": "1"}) as cluster:
        response = cluster.checkout(checkout_body("op-1"), key="k-1")
        saga_id = response.json()["saga"]["id"]
        wait_until(lambda: _charge_again(cluster, saga_id) == "step-compensated",
                   "the late charge to be refused")

        assert response.json()["saga"]["status"] == "compensated"
        assert cluster.kinds("payments") == [("refund", 0)]
        assert cluster.level("payments", "cus_1") == 0


def test_naive_charges_twice_when_a_timed_out_charge_is_retried(tmp_path: Path) -> None:
    slow = {"payments": {"CHECKOUT_SLOW_FIRST": f"charge={SLOW_MS}"}}
    with running_cluster(tmp_path, "naive", participant_env=slow,
                         orchestrator_env={"CHECKOUT_STEP_ATTEMPTS": "2"}) as cluster:
        response = cluster.checkout(checkout_body("op-1"))
        wait_until(lambda: len(cluster.kinds("payments")) == 2, "the first, late charge to commit")

        assert response.json()["status"] == "done"
        assert cluster.kinds("payments") == [("charge", 700), ("charge", 700)]
        assert cluster.level("payments", "cus_1") == 1400


def _checkout_until_the_orchestrator_dies(cluster: Cluster, key: str) -> int | None:
    with suppress(httpx.TransportError):  # the connection dies with the orchestrator
        cluster.checkout(checkout_body("op-1"), key=key)
    wait_until(lambda: not cluster.orchestrator.is_alive(), "the orchestrator to crash")
    return cluster.orchestrator.exit_code()


def _charge_again(cluster: Cluster, saga_id: str) -> str:
    """Send the saga's charge again with its key: in flight while the first runs, then refused."""
    body = {"saga_id": saga_id, "step": 1, "item": "cus_1", "amount": 700, "reference": "op-1"}
    response = httpx.post(f"{cluster.url('payments')}/charge", json=body,
                          headers={"Idempotency-Key": f"{saga_id}:1:charge"}, timeout=10)
    assert response.status_code == 409, response.text
    problem_type: str = response.json()["type"]
    return problem_type.rsplit(":", 1)[-1]
