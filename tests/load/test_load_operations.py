"""Operations: ids, kinds by weight, rendered requests, stable keys, double submits, and the queue."""

from __future__ import annotations

import itertools
import json
import uuid
from collections import Counter
from pathlib import Path

import pytest
from factories import load_cell

from harness.load.config import LoadCellConfig
from harness.load.operations import (
    KEY_NAMESPACE,
    OperationQueue,
    build_request,
    choose_kind,
    idempotency_key,
    is_double_submitted,
    op_id_for,
    resource_id_at,
)
from harness.scenario import OperationSpec

REFUND = OperationSpec(
    name="refund",
    weight=1,
    method="PUT",
    path="/refunds/{seq}",
    headers={"X-Tenant": "t-{int:1:3}"},
    body={"reference": "{op_id}", "lines": [{"qty": "{int:1:2}"}], "note": None},
    key_header="X-Request-Key",
    resource_id_field="data.id",
)
CHARGE = OperationSpec(weight=3)


def config(**changes: object) -> LoadCellConfig:
    """A cell of seed 5 drawing amounts from 5..9; ``changes`` replace its fields or its load's."""
    return load_cell("http://127.0.0.1:9", Path("unused"), "", seed=5, amount_min=5, amount_max=9, **changes)


def test_op_ids_are_the_prefix_and_a_six_digit_number() -> None:
    assert op_id_for("nai-drop-", 0) == "nai-drop-000000"
    assert op_id_for("x", 123456) == "x123456"


def test_the_default_kind_is_the_payments_charge_and_a_pure_function_of_seed_and_number() -> None:
    built = build_request(config(), "p-", 7)
    assert built == build_request(config(), "p-", 7)
    body = json.loads(built.body or b"")
    assert list(body) == ["amount", "currency", "customer", "reference"]
    assert body["reference"] == built.op_id == "p-000007"
    assert body["currency"] == "EUR" and isinstance(body["amount"], int) and 5 <= body["amount"] <= 9
    assert body["customer"].startswith("cus_") and len(body["customer"]) == 8
    shape = (built.kind, built.method, built.path, built.resource_id_field)
    assert shape == ("charge", "POST", "/charges", "id")
    assert dict(built.headers) == {"Content-Type": "application/json", "Idempotency-Key": built.key}
    assert uuid.UUID(str(built.key)).version == 5
    assert built.double_submit is False


def test_keys_differ_by_op_and_by_seed_and_can_be_left_out() -> None:
    assert idempotency_key(1, "p-000001") == idempotency_key(1, "p-000001")
    assert idempotency_key(1, "p-000001") != idempotency_key(1, "p-000002")
    assert idempotency_key(1, "p-000001") != idempotency_key(2, "p-000001")
    bare = build_request(config(send_idempotency_key=False), "p-", 1)
    assert bare.key is None and dict(bare.headers) == {"Content-Type": "application/json"}


def test_amounts_cover_the_range_across_operations() -> None:
    amounts = {json.loads(build_request(config(), "p-", n).body or b"")["amount"] for n in range(200)}
    assert amounts == {5, 6, 7, 8, 9}


def test_kinds_are_drawn_by_weight_and_the_request_follows_its_kind() -> None:
    cell = config(kinds=(CHARGE, REFUND))
    requests = [build_request(cell, "p-", n) for n in range(400)]
    counts = Counter(request.kind for request in requests)
    assert counts["charge"] + counts["refund"] == 400
    assert 250 <= counts["charge"] <= 350  # weight 3 : 1, so about 300
    assert [r.kind for r in requests] == [choose_kind(5, r.op_id, cell.kinds).name for r in requests]

    refund = next(r for r in requests if r.kind == "refund")
    assert (refund.method, refund.path) == ("PUT", f"/refunds/{refund.number}")
    assert refund.resource_id_field == "data.id"
    assert list(refund.headers) == ["Content-Type", "X-Tenant", "X-Request-Key"]
    assert refund.headers["X-Request-Key"] == refund.key == idempotency_key(5, refund.op_id)
    assert refund.headers["X-Tenant"] in {"t-1", "t-2", "t-3"}
    body = json.loads(refund.body or b"")
    assert body["reference"] == refund.op_id and body["note"] is None
    assert body["lines"][0]["qty"] in (1, 2)


def test_the_same_seed_sends_the_same_bytes_as_it_always_has() -> None:
    """Pinned requests: a faster way of building them must not change one byte a rerun sends."""
    refund = REFUND.model_copy(
        update={"body": {**REFUND.body, "u": "{uuid}", "c": "{customer}", "é": "{choice:a|b}"}}
    )
    cell = config(kinds=(CHARGE, refund))
    charge, third = build_request(cell, "p-", 0), build_request(cell, "p-", 3)
    assert charge.body == b'{"amount":5,"currency":"EUR","customer":"cus_0902","reference":"p-000000"}'
    assert dict(charge.headers) == {
        "Content-Type": "application/json",
        "Idempotency-Key": "37a85708-f490-55e0-8b30-b7dc4973107f",
    }
    assert (third.kind, third.path) == ("refund", "/refunds/3")
    assert third.body == (
        b'{"reference":"p-000003","lines":[{"qty":1}],"note":null,'
        b'"u":"7365dca9-7ede-4e8a-9042-f1b8e7eab107","c":"cus_0058","\\u00e9":"b"}'
    )
    assert dict(third.headers) == {
        "Content-Type": "application/json",
        "X-Tenant": "t-1",
        "X-Request-Key": "1eb3e045-d0db-5c4c-93d1-092656ef98bb",
    }


def test_keys_are_the_uuid5_of_seed_and_op_id() -> None:
    for seed, number in itertools.product((0, 5, 2**40), range(300)):
        op_id = op_id_for("nai-drop-", number)
        assert idempotency_key(seed, op_id) == str(uuid.uuid5(KEY_NAMESPACE, f"{seed}/{op_id}"))


def test_a_kind_without_a_body_sends_no_body_and_no_content_type() -> None:
    probe = OperationSpec(name="probe", method="GET", path="/charges/{op_id}", body=None)
    built = build_request(config(kinds=(probe,)), "p-", 3)
    assert (built.body, built.path) == (None, "/charges/p-000003")
    assert dict(built.headers) == {"Idempotency-Key": built.key}


def test_a_declared_header_overrides_the_default_content_type_in_any_case() -> None:
    kind = OperationSpec(headers={"content-type": "application/vnd.api+json"})
    assert dict(build_request(config(kinds=(kind,)), "p-", 0).headers) == {
        "content-type": "application/vnd.api+json",
        "Idempotency-Key": idempotency_key(5, "p-000000"),
    }


def test_double_submits_are_drawn_per_op_with_the_configured_probability() -> None:
    flags = [build_request(config(double_submit=0.25), "p-", n).double_submit for n in range(400)]
    assert 70 <= sum(flags) <= 130
    assert flags == [is_double_submitted(5, op_id_for("p-", n), 0.25) for n in range(400)]
    assert not any(build_request(config(double_submit=0.0), "p-", n).double_submit for n in range(50))
    assert all(build_request(config(double_submit=1.0), "p-", n).double_submit for n in range(50))


def test_kind_names_must_be_unique_and_present() -> None:
    with pytest.raises(ValueError, match="operation names must not repeat: charge"):
        config(kinds=(CHARGE, OperationSpec()))
    with pytest.raises(ValueError, match="at least one operation"):
        config(kinds=())


@pytest.mark.parametrize(
    ("body", "dotted", "expected"),
    [
        ({"id": "ch_1"}, "id", "ch_1"),
        ({"id": 17}, "id", "17"),
        ({"data": {"id": "r_2"}}, "data.id", "r_2"),
        ({"items": [{"id": "a"}, {"id": "b"}]}, "items.1.id", "b"),
        ({"items": [{"id": "a"}]}, "items.3.id", None),
        ({"data": {"id": {"nested": 1}}}, "data.id", None),
        ({"data": None}, "data.id", None),
        (["x"], "id", None),
        ({}, "id", None),
    ],
)
def test_the_resource_id_is_read_at_a_dotted_path(body: object, dotted: str, expected: str | None) -> None:
    assert resource_id_at(body, dotted) == expected


def test_the_queue_hands_out_each_number_once_and_counts_ends() -> None:
    queue = OperationQueue(3)
    assert [queue.take() for _ in range(5)] == [0, 1, 2, None, None]
    assert (queue.started, queue.completed, queue.done) == (3, 0, False)
    for _ in range(3):
        queue.finish()
    assert (queue.completed, queue.done) == (3, True)
    with pytest.raises(ValueError):
        OperationQueue(-1)
