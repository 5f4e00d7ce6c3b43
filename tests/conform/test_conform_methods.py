"""``harness conform --methods`` against a real orders API on a loopback port: each check passes on the
correct server and fails on the server broken its way; reports and exit statuses as for the key checks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from harness.cli import main
from harness.conform import (
    ConformResult,
    Contract,
    declare_resource,
    print_conformance,
    run_method_conformance,
    write_conformance,
)
from harness.conform.methods import (
    ALLOW,
    CREATE,
    DELETE_REPEATED,
    GET_SAFE,
    HEAD_SAFE,
    PATCH_KEYED,
    PUT_REPEATED,
)
from tests.conform.orders_server import serving

NAMES = [CREATE, GET_SAFE, HEAD_SAFE, PUT_REPEATED, PATCH_KEYED, DELETE_REPEATED, ALLOW]
CREATE_BODY = {"sku": "sku-red", "quantity": 1}
ADDRESS = {"line1": "1 Main St", "city": "Leeds"}
INCREMENT = {"op": "increment", "field": "quantity", "by": 1}
DECLARED: dict[str, Any] = {
    "create_body": CREATE_BODY, "put": "/orders/{id}/address", "put_body": ADDRESS, "patch_body": INCREMENT,
}
ALL_PASS = dict.fromkeys(NAMES, True)


def conform(mode: str, **declared: Any) -> ConformResult:
    with serving(mode) as server:
        return run_method_conformance(server.base_url, declare_resource("/orders/{id}", **declared))


def outcomes(result: ConformResult) -> dict[str, bool | None]:
    return {check.name: check.passed for check in result.checks}


def check(result: ConformResult, name: str) -> Any:
    return next(found for found in result.checks if found.name == name)


@pytest.fixture(scope="module")
def correct() -> ConformResult:
    return conform("correct", **DECLARED)


def test_the_correct_server_passes_every_check(correct: ConformResult) -> None:
    assert list(outcomes(correct)) == NAMES
    assert outcomes(correct) == ALL_PASS
    assert correct.passed is True
    assert correct.contract is Contract.METHODS
    assert correct.method == "GET,HEAD,PUT,PATCH,DELETE,OPTIONS"
    assert correct.url.endswith("/orders/{id}")


def test_the_correct_server_s_evidence_shows_each_request_and_answer(correct: ConformResult) -> None:
    put = check(correct, PUT_REPEATED)
    assert [(exchange.method, exchange.path, exchange.status) for exchange in put.evidence] == [
        ("PUT", "/orders/1/address", 200), ("GET", "/orders/1", 200),
        ("PUT", "/orders/1/address", 200), ("GET", "/orders/1", 200),
    ]
    assert put.evidence[0].sent == json.dumps(ADDRESS)
    patch = check(correct, PATCH_KEYED)
    assert patch.message == (
        "the replay answered HTTP 200 with the same body, and the resource changed once (quantity 1 → 2)"
    )
    first, second = (exchange for exchange in patch.evidence if exchange.method == "PATCH")
    assert first.key is not None and first.key == second.key and first.body == second.body
    delete = check(correct, DELETE_REPEATED)
    assert delete.message == "DELETE answered HTTP 204, repeated HTTP 404; GET then HTTP 404"
    assert [exchange.path for exchange in delete.evidence] == ["/orders", *["/orders/2"] * 3]
    allow = check(correct, ALLOW)
    assert allow.message == (
        "Allow: GET, HEAD, PATCH, DELETE, OPTIONS lists every method the resource answered "
        "(GET, HEAD, PATCH, DELETE, OPTIONS), none refused"
    )


@pytest.mark.parametrize(
    ("mode", "failed", "message"),
    [
        ("put-appends", [PUT_REPEATED],
         "the same PUT sent twice changed the resource again: address_changes 1 → 2; PUT is not idempotent"),
        ("delete-500", [DELETE_REPEATED],
         "the repeated DELETE answered HTTP 500: never a 5xx for a retried DELETE"),
        ("head-differs", [HEAD_SAFE], "HEAD's Content-Type is text/plain, GET's application/json"),
        ("patch-ignores-key", [PATCH_KEYED], "the second PATCH with the same key changed the resource again: "
         "quantity 2 → 3; the replay answered differently: quantity 2 → 3; Idempotency-Key does not make the "
         "PATCH apply once"),
        ("allow-lies", [ALLOW], "Allow: GET, HEAD, PUT, OPTIONS; PATCH answered HTTP 200 but Allow leaves it "
         "out; DELETE answered HTTP 204, 404 but Allow leaves it out"),
    ],
)
def test_each_broken_server_fails_its_check_alone(mode: str, failed: list[str], message: str) -> None:
    result = conform(mode, **DECLARED)

    assert outcomes(result) == {name: name not in failed for name in NAMES}
    assert check(result, failed[0]).message == message
    assert result.passed is False


def test_a_get_that_counts_views_fails_get_and_head_and_the_later_checks_leave_views_out() -> None:
    result = conform("get-counts-views", **DECLARED)

    assert outcomes(result) == {**ALL_PASS, GET_SAFE: False, HEAD_SAFE: False}
    assert check(result, GET_SAFE).message == (
        "the resource changed while only GET was sent to it: views 1 → 2; GET is not safe"
    )
    assert check(result, HEAD_SAFE).message == (
        "views 5 → 9 across 3 HEADs and the GET after them, where one GET alone moves it by 1"
    )
    assert check(result, PUT_REPEATED).message.endswith(
        "; leaving out views, which GET alone changes (see the GET check)"
    )
    ignoring = conform("get-counts-views", **DECLARED, ignore=["views"])
    assert outcomes(ignoring) == ALL_PASS
    assert check(ignoring, GET_SAFE).message == (
        "4 GETs read the same representation (HTTP 200); ignoring views"
    )


@pytest.mark.parametrize(
    ("seen", "head_passed", "head_message"),
    [
        (lambda views: views, True,
         "3 HEADs answered HTTP 200, no body, Content-Type application/json as GET; the resource read the "
         "same before and after; leaving out seen, which GET alone changes (see the GET check)"),
        (lambda views: f"t{views}", None,
         "could not tell whether HEAD changes seen: GET alone changes it, and not by a fixed number (see the "
         "GET check)"),
    ],
)
def test_a_head_is_not_blamed_for_what_the_gets_around_it_change(
    seen: Any, head_passed: bool | None, head_message: str
) -> None:
    """Only GET moves ``seen`` (a count, then a text): HEAD passes when the count moved by one GET's step,
    and cannot tell when the field is not a number."""
    views = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal views
        if request.method == "POST":
            return httpx.Response(201, json={"id": "1"})
        if request.method == "HEAD":
            return httpx.Response(200, headers={"content-type": "application/json"})
        views += request.method == "GET"
        return httpx.Response(200, json={"id": "1", "seen": seen(views)})

    resource = declare_resource("/orders/{id}", unsupported=["PUT", "PATCH", "DELETE", "OPTIONS"])
    result = run_method_conformance("http://127.0.0.1:9", resource, transport=httpx.MockTransport(handler))

    assert outcomes(result)[GET_SAFE] is False
    assert (check(result, HEAD_SAFE).passed, check(result, HEAD_SAFE).message) == (head_passed, head_message)


def test_allow_listing_a_method_that_answers_405_fails() -> None:
    """PUT on the resource itself (its body derived from GET) answers 405: the check could not tell,
    and an Allow that lists PUT is caught; the correct Allow leaves it out and passes."""
    declared = {**DECLARED, "put": None, "put_body": None}

    lying = conform("allow-lies", **declared)
    honest = conform("correct", **declared)

    assert check(lying, ALLOW).passed is False
    assert check(lying, ALLOW).message.endswith("; Allow lists PUT, which answered 405")
    assert check(honest, ALLOW).passed is True
    for result in (lying, honest):
        put = check(result, PUT_REPEATED)
        assert put.passed is None
        assert put.message.startswith("could not tell: PUT answered 405 Method Not Allowed; if the API does "
                                      "not offer PUT here, say so with --unsupported PUT")
        assert json.loads(put.evidence[1].sent or "") == {
            "sku": "sku-red", "quantity": 1, "address": None, "address_changes": 0, "views": 0,
        }


def test_a_method_declared_unsupported_is_skipped_not_passed() -> None:
    result = conform("correct", **{**DECLARED, "patch_body": None}, unsupported=["patch", "OPTIONS"])

    assert outcomes(result) == {**ALL_PASS, PATCH_KEYED: None, ALLOW: None}
    assert check(result, PATCH_KEYED).message == "skipped: declared unsupported (--unsupported PATCH)"
    assert check(result, PATCH_KEYED).evidence == ()
    assert result.method == "GET,HEAD,PUT,DELETE"
    assert result.passed is True


def test_undeclared_patch_cannot_tell() -> None:
    result = conform("correct", create_body=CREATE_BODY, put="/orders/{id}/address", put_body=ADDRESS)

    assert check(result, PATCH_KEYED).passed is None
    assert check(result, PATCH_KEYED).message.startswith("could not tell: no PATCH declared (--patch-body")


def test_a_failed_create_fails_and_leaves_the_rest_undecided() -> None:
    result = conform("create-fails", **DECLARED)

    assert outcomes(result) == {CREATE: False, **{name: None for name in NAMES[1:]}}
    assert check(result, CREATE).message == (
        "POST /orders answered HTTP 503: no resource to check (see --create and --create-body)"
    )
    assert check(result, GET_SAFE).message == "could not tell: no resource was created (see the create check)"


def test_an_id_field_the_answer_lacks_falls_back_to_the_location_header() -> None:
    by_location = conform("correct", **DECLARED, id_field="order_id")
    assert check(by_location, CREATE).message == "created '1': HTTP 201"
    assert by_location.passed is True


def test_reports_carry_the_contract_the_evidence_and_one_case_per_check(tmp_path: Path) -> None:
    result = conform("put-appends", **DECLARED)

    paths = write_conformance(result, tmp_path)

    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert (document["contract"], document["passed"]) == ("methods", False)
    put = document["checks"][NAMES.index(PUT_REPEATED)]
    assert put["evidence"][0] == {
        "method": "PUT", "key": None, "status": 200, "path": "/orders/1/address", "sent": json.dumps(ADDRESS),
        "body": put["evidence"][0]["body"],
    }
    suite = ET.parse(paths["junit"]).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "http-method-conformance"
    assert [case.get("name") for case in suite.findall("testcase")] == NAMES
    assert [case.get("name") for case in suite.findall("testcase") if case.find("failure") is not None] == [
        PUT_REPEATED
    ]
    failure = suite.find("testcase/failure")
    assert failure is not None and (failure.text or "").startswith(
        f'PUT /orders/1/address {json.dumps(ADDRESS)} → 200 {{"id": "1"'
    )
    console = Console(record=True, width=300, color_system=None)
    print_conformance(result, console)
    lines = console.export_text().splitlines()
    assert lines[0] == f"HTTP method conformance of GET,HEAD,PUT,PATCH,DELETE,OPTIONS {result.url}"
    assert lines[-1] == "Conformance: FAIL (7 checks, 1 failed, 0 could not tell)"


def _conform_command(base_url: str, tmp_path: Path, *options: str) -> list[str]:
    return [
        "conform", base_url, "--methods", "--resource", "/orders/{id}",
        "--create-body", json.dumps(CREATE_BODY), "--put", "/orders/{id}/address",
        "--put-body", json.dumps(ADDRESS), "--out", str(tmp_path), *options,
    ]


def test_the_command_exits_0_when_every_check_holds_and_1_when_one_fails(tmp_path: Path) -> None:
    body_file = tmp_path / "patch.json"
    body_file.write_text(json.dumps(INCREMENT), encoding="utf-8")
    with serving("correct") as server:
        assert main(_conform_command(server.base_url, tmp_path, "--patch-body", f"@{body_file}")) == 0
    with serving("patch-ignores-key") as server:
        assert main(_conform_command(server.base_url, tmp_path, "--patch-body", f"@{body_file}")) == 1
    document = json.loads((tmp_path / "conform.json").read_text(encoding="utf-8"))
    assert [found["name"] for found in document["checks"] if not found["passed"]] == [PATCH_KEYED]


def test_the_command_refuses_bad_input_before_any_request(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serving("correct") as server:
        status = main(_conform_command(server.base_url, tmp_path, "--unsupported", "PUT"))
        assert server.state.orders == {}
    assert status == 2
    assert capsys.readouterr().err.strip() == "error: --put: PUT is declared unsupported (--unsupported PUT)"


def test_a_head_answer_with_a_body_fails_and_methods_answering_405_cannot_tell() -> None:
    """Through a mock transport, which hands a HEAD's body to the client as a socket never would."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, json={"id": "a/1"})
        if request.method in ("GET", "HEAD"):
            assert request.url.raw_path == b"/orders/a%2F1"
            return httpx.Response(200, json={"id": "a/1"})
        return httpx.Response(405)

    resource = declare_resource("/orders/{id}")
    result = run_method_conformance("http://127.0.0.1:9", resource, transport=httpx.MockTransport(handler))

    assert outcomes(result) == {**dict.fromkeys(NAMES), CREATE: True, GET_SAFE: True, HEAD_SAFE: False}
    assert check(result, HEAD_SAFE).message == "HEAD answered with a body (12 bytes)"
    assert check(result, DELETE_REPEATED).message.startswith("could not tell: DELETE answered 405")
    assert check(result, ALLOW).message == "could not tell: OPTIONS answered HTTP 405 with no Allow header"
