"""Op ids stay readable and never collide across variants, faults or runs."""

from __future__ import annotations

from harness.load.operations import idempotency_key, op_id_for
from harness.opids import op_id_prefix

RUN = "20260101-120000-orders"


def test_variants_with_a_common_prefix_get_distinct_ids_and_keys() -> None:
    variants = ("fastidem-redis", "fastidem-memory", "fastidem-postgres")
    ids = {op_id_for(op_id_prefix(RUN, variant, "drop"), 7) for variant in variants}
    assert len(ids) == 3
    assert len({idempotency_key(5, op_id) for op_id in ids}) == 3
    assert all(op_id.startswith("fas-drop-") for op_id in ids)


def test_a_rerun_gets_new_ids() -> None:
    first = op_id_prefix(RUN, "idempotent", "crash")
    rerun = op_id_prefix("20260101-120000-orders-2", "idempotent", "crash")
    assert first != rerun
    assert first == op_id_prefix(RUN, "idempotent", "crash")  # a pure function of its inputs


def test_faults_sharing_their_first_letters_get_distinct_ids() -> None:
    assert op_id_prefix(RUN, "naive", "latency-small-a") != op_id_prefix(RUN, "naive", "latency-small-b")


def test_the_prefix_reads_as_variant_fault_digest() -> None:
    prefix = op_id_prefix(RUN, "naive", "drop-responses-often")
    readable, digest = prefix[: -len("12345678-")], prefix[-len("12345678-") : -1]
    assert readable == "nai-drop-respons-"
    assert len(digest) == 8 and int(digest, 16) >= 0
