"""Operations: ids, seeded bodies, stable Idempotency-Keys, and the queue that hands them out."""

from __future__ import annotations

import json
import uuid

import pytest

from harness.load.operations import OperationQueue, build_request, idempotency_key, op_id_for


def test_op_ids_are_the_prefix_and_a_six_digit_number() -> None:
    assert op_id_for("nai-drop-", 0) == "nai-drop-000000"
    assert op_id_for("x", 123456) == "x123456"


def test_the_request_is_a_pure_function_of_seed_and_number() -> None:
    built = build_request(seed=5, prefix="p-", number=7, amount_min=5, amount_max=9, send_key=True)
    again = build_request(seed=5, prefix="p-", number=7, amount_min=5, amount_max=9, send_key=True)
    assert built == again
    body = json.loads(built.body)
    assert set(body) == {"amount", "currency", "customer", "reference"}
    assert body["reference"] == built.op_id == "p-000007"
    assert body["currency"] == "EUR" and 5 <= body["amount"] <= 9
    assert body["customer"].startswith("cus_") and len(body["customer"]) == 8
    assert dict(built.headers) == {"Content-Type": "application/json", "Idempotency-Key": built.key}
    assert uuid.UUID(str(built.key)).version == 5


def test_keys_differ_by_op_and_by_seed_and_can_be_left_out() -> None:
    assert idempotency_key(1, "p-000001") == idempotency_key(1, "p-000001")
    assert idempotency_key(1, "p-000001") != idempotency_key(1, "p-000002")
    assert idempotency_key(1, "p-000001") != idempotency_key(2, "p-000001")
    bare = build_request(seed=1, prefix="p-", number=1, amount_min=5, amount_max=9, send_key=False)
    assert bare.key is None and dict(bare.headers) == {"Content-Type": "application/json"}


def test_amounts_cover_the_range_across_operations() -> None:
    bodies = [
        build_request(seed=3, prefix="p-", number=n, amount_min=5, amount_max=9, send_key=True).body
        for n in range(200)
    ]
    assert {json.loads(body)["amount"] for body in bodies} == {5, 6, 7, 8, 9}


def test_the_queue_hands_out_each_number_once_and_counts_ends() -> None:
    queue = OperationQueue(3)
    assert [queue.take() for _ in range(5)] == [0, 1, 2, None, None]
    assert (queue.started, queue.completed, queue.done) == (3, 0, False)
    for _ in range(3):
        queue.finish()
    assert (queue.completed, queue.done) == (3, True)
    with pytest.raises(ValueError):
        OperationQueue(-1)
