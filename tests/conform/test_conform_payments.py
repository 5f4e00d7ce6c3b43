"""Conformance of the reference payments target: the idempotent variant conforms, naive fails 1, 3, 4, 5."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from harness.conform import ConformResult, print_conformance, run_conformance, write_conformance
from harness.conform.checks import (
    CONCURRENT,
    EXPIRY,
    FIRST_REQUEST,
    MISSING_KEY,
    PAYLOAD_MISMATCH,
    REPLAY,
)
from harness.runtime.process import ProcessTarget

StartTarget = Callable[[str], ProcessTarget]
NAMES = [MISSING_KEY, FIRST_REQUEST, REPLAY, PAYLOAD_MISMATCH, CONCURRENT, EXPIRY]


@pytest.fixture(scope="module")
def idempotent_result(start_payments: StartTarget) -> ConformResult:
    return run_conformance(f"{start_payments('idempotent').endpoint.base_url}/charges")


@pytest.fixture(scope="module")
def naive_result(start_payments: StartTarget) -> ConformResult:
    return run_conformance(f"{start_payments('naive').endpoint.base_url}/charges")


def test_idempotent_target_passes_every_check(idempotent_result: ConformResult) -> None:
    outcomes = {check.name: check.passed for check in idempotent_result.checks}

    assert list(outcomes) == NAMES
    assert outcomes == {name: (None if name == EXPIRY else True) for name in NAMES}
    assert idempotent_result.passed is True
    assert idempotent_result.method == "POST"


def test_idempotent_evidence_shows_statuses_and_one_resource(idempotent_result: ConformResult) -> None:
    checks = {check.name: check for check in idempotent_result.checks}

    assert [exchange.status for exchange in checks[MISSING_KEY].evidence] == [400]
    assert checks[MISSING_KEY].evidence[0].key is None
    assert [exchange.status for exchange in checks[REPLAY].evidence] == [201, 201]
    first, replay = checks[REPLAY].evidence
    assert first.key == replay.key and first.body == replay.body
    assert "Idempotent-Replayed: true" in checks[REPLAY].message
    assert [exchange.status for exchange in checks[PAYLOAD_MISMATCH].evidence] == [201, 422]
    # 4 concurrent: one creates the charge, those arriving during its 300 ms meet it in flight (409),
    # any later one gets the replay; then one more request after them all gets the replay
    statuses = [exchange.status for exchange in checks[CONCURRENT].evidence]
    assert len(statuses) == 5 and set(statuses) == {201, 409} and statuses[4] == 201
    conflicts = statuses.count(409)
    assert checks[CONCURRENT].message.endswith(f"{4 - conflicts} × 2xx, {conflicts} × 409 (in flight)")


def test_naive_target_fails_key_checks_with_reasons(naive_result: ConformResult) -> None:
    checks = {check.name: check for check in naive_result.checks}

    assert {name: check.passed for name, check in checks.items()} == {
        MISSING_KEY: False,
        FIRST_REQUEST: True,
        REPLAY: False,
        PAYLOAD_MISMATCH: False,
        CONCURRENT: False,
        EXPIRY: None,
    }
    assert naive_result.passed is False
    assert checks[MISSING_KEY].message.startswith("accepted a request without Idempotency-Key (HTTP 201")
    assert checks[REPLAY].message.startswith("the retry created a second resource: ch_")
    assert checks[PAYLOAD_MISMATCH].message.startswith("accepted a different payload under a used key")
    assert checks[CONCURRENT].message.startswith(
        "5 resources created for one key (4 concurrent requests and 1 retry after them): ch_"
    )


def test_junit_has_one_case_per_check_and_fails_where_expected(
    naive_result: ConformResult, tmp_path: Path
) -> None:
    paths = write_conformance(naive_result, tmp_path / "out")

    assert paths == {"json": tmp_path / "out" / "conform.json", "junit": tmp_path / "out" / "junit.xml"}
    suite = ET.parse(paths["junit"]).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert [case.get("name") for case in cases] == NAMES
    failed = [case.get("name") for case in cases if case.find("failure") is not None]
    skipped = [case.get("name") for case in cases if case.find("skipped") is not None]
    assert failed == [MISSING_KEY, REPLAY, PAYLOAD_MISMATCH, CONCURRENT]
    assert skipped == [EXPIRY]
    assert {key: suite.get(key) for key in ("tests", "failures", "errors", "skipped")} == {
        "tests": "6", "failures": "4", "errors": "0", "skipped": "1",
    }
    document = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert document["passed"] is False
    assert [check["passed"] for check in document["checks"]] == [False, True, False, False, False, None]
    assert document["checks"][0]["evidence"][0]["key"] is None


def test_idempotent_junit_has_no_failures(idempotent_result: ConformResult, tmp_path: Path) -> None:
    suite = ET.parse(write_conformance(idempotent_result, tmp_path)["junit"]).getroot().find("testsuite")
    assert suite is not None
    assert suite.findall("testcase/failure") == []
    assert [case.get("name") for case in suite.findall("testcase") if case.find("skipped") is not None] == [
        EXPIRY
    ]


def test_terminal_report_marks_each_check(naive_result: ConformResult) -> None:
    console = Console(record=True, width=300, color_system=None)

    print_conformance(naive_result, console)

    lines = console.export_text().splitlines()
    assert lines[0] == f"Idempotency-Key conformance of POST {naive_result.url}"
    marks = [line[2] for line in lines if line.startswith("  ") and not line.startswith("      ")]
    assert marks == ["✘", "✔", "✘", "✘", "✘", "?"]
    assert lines[-1] == "Conformance: FAIL (6 checks, 4 failed, 1 could not tell)"
