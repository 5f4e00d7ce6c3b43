"""``harness conform --methods`` against the reference orders target, one real process per variant, with
the options a user of the orders API passes: the correct variant passes every check, and each broken
variant fails exactly the check of the method it gets wrong, saying why."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.conform import ConformCheck, ConformResult, declare_resource, run_method_conformance
from harness.conform.methods import (
    ALLOW,
    CREATE,
    DELETE_REPEATED,
    GET_SAFE,
    HEAD_SAFE,
    PATCH_KEYED,
    PUT_REPEATED,
)
from harness.runtime.process import ProcessTarget

NAMES = [CREATE, GET_SAFE, HEAD_SAFE, PUT_REPEATED, PATCH_KEYED, DELETE_REPEATED, ALLOW]
RESOURCE = "/orders/{id}"
ADDRESS_PATH = "/orders/{id}/address"
ORDER = {"sku": "sku-red", "quantity": 1, "customer": "cus_conform", "reference": "conform.create"}
ADDRESS = {"line1": "1 Main St", "city": "Leeds", "reference": "conform.put"}
INCREMENT = {"op": "increment", "field": "quantity", "by": 1, "reference": "conform.patch"}

LEAVING_OUT_VIEWS = "; leaving out views, which GET alone changes (see the GET check)"

BaseUrl = Callable[[str], str]


@pytest.fixture(scope="module")
def base_url(start_orders: Callable[[str], ProcessTarget]) -> Iterator[BaseUrl]:
    """The base URL of the orders target running ``variant``: started on first use, once per module."""
    started: dict[str, str] = {}

    def url(variant: str) -> str:
        if variant not in started:
            started[variant] = start_orders(variant).endpoint.base_url
        return started[variant]

    yield url


def conform(url: str) -> ConformResult:
    resource = declare_resource(
        RESOURCE, create_body=ORDER, put=ADDRESS_PATH, put_body=ADDRESS, patch_body=INCREMENT
    )
    return run_method_conformance(url, resource)


def failing(result: ConformResult) -> dict[str, ConformCheck]:
    """Every check but those that passed, by name: a check that could not tell shows here too."""
    return {check.name: check for check in result.checks if check.passed is not True}


def test_the_idempotent_orders_target_passes_every_check(base_url: BaseUrl) -> None:
    result = conform(base_url("idempotent"))

    assert [check.name for check in result.checks] == NAMES
    assert failing(result) == {}
    assert result.passed is True
    patch = next(check for check in result.checks if check.name == PATCH_KEYED)
    assert patch.message == (
        "the replay answered HTTP 200 with the same body, and the resource changed once (quantity 1 → 2)"
    )


@pytest.mark.parametrize(
    ("variant", "failed", "message"),
    [
        ("broken-put-appends", [PUT_REPEATED],
         "the same PUT sent twice changed the resource again: address_changes 1 → 2; PUT is not idempotent"),
        ("broken-delete-500", [DELETE_REPEATED],
         "the repeated DELETE answered HTTP 500: never a 5xx for a retried DELETE"),
        ("broken-get-counts-views", [GET_SAFE, HEAD_SAFE],
         "the resource changed while only GET was sent to it: views 1 → 2; GET is not safe"),
        ("naive", [PATCH_KEYED],
         "the second PATCH with the same key changed the resource again: quantity 2 → 3; the replay answered "
         "differently: quantity 2 → 3; Idempotency-Key does not make the PATCH apply once"),
    ],
)
def test_each_broken_variant_fails_the_check_of_its_method(
    base_url: BaseUrl, variant: str, failed: list[str], message: str
) -> None:
    result = conform(base_url(variant))
    found = failing(result)

    assert list(found) == failed
    assert all(check.passed is False for check in found.values())
    assert found[failed[0]].message == message
    assert result.passed is False


def test_the_delete_check_shows_the_500_among_its_answers(base_url: BaseUrl) -> None:
    delete = failing(conform(base_url("broken-delete-500")))[DELETE_REPEATED]

    assert [(exchange.method, exchange.status) for exchange in delete.evidence] == [
        ("POST", 201), ("DELETE", 204), ("DELETE", 500), ("GET", 404),
    ]


def test_put_and_patch_are_not_blamed_for_the_views_a_get_counts(base_url: BaseUrl) -> None:
    result = conform(base_url("broken-get-counts-views"))
    checks = {check.name: check for check in result.checks}

    assert checks[HEAD_SAFE].message == (
        "views 5 → 9 across 3 HEADs and the GET after them, where one GET alone moves it by 1"
    )
    for name in (PUT_REPEATED, PATCH_KEYED):
        assert checks[name].passed is True
        assert checks[name].message.endswith(LEAVING_OUT_VIEWS)


def _command(url: str, out: Path, patch_file: Path) -> list[str]:
    return [
        "conform", url, "--methods", "--resource", RESOURCE,
        "--create-body", json.dumps(ORDER), "--put", ADDRESS_PATH, "--put-body", json.dumps(ADDRESS),
        "--patch-body", f"@{patch_file}", "--out", str(out),
    ]


@pytest.mark.parametrize(("variant", "status"), [("idempotent", 0), ("naive", 1)])
def test_the_command_exits_0_on_the_idempotent_target_and_1_on_the_naive(
    base_url: BaseUrl, tmp_path: Path, variant: str, status: int
) -> None:
    patch_file = tmp_path / "increment.json"
    patch_file.write_text(json.dumps(INCREMENT), encoding="utf-8")

    assert main(_command(base_url(variant), tmp_path, patch_file)) == status
    document: dict[str, Any] = json.loads((tmp_path / "conform.json").read_text(encoding="utf-8"))
    assert [check["name"] for check in document["checks"] if check["passed"] is not True] == (
        [PATCH_KEYED] if status else []
    )
