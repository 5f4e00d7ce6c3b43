"""The pytest plugin: registered by its entry point, its fixtures in real pytest sessions (pytester), and
the assertion message that tells the duplicated operations' stories."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import httpx
import pytest
from factories import cell_verdict

import harness.pytest_plugin as plugin
from harness.history import AttemptEnd
from harness.pytest_plugin import AnomalyCount, EvidenceRate, VariantOutcome, pytest_assertrepr_compare
from harness.verdict import Anomaly, CellVerdict, Interval

pytest_plugins = ["pytester"]


def test_installed_package_registers_the_plugin_by_entry_point(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.get_plugin("idempotency_harness") is plugin


def _cell(fault: str, operations: int, anomalies: tuple[Anomaly, ...], lost: int = 0) -> CellVerdict:
    duplicated = sum(1 for a in anomalies if a.kind == "duplicate_effect")
    return cell_verdict(
        "naive", fault, operations=operations, attempts=operations + 2, retries=2, acknowledged=operations,
        ops_with_duplicates=duplicated, duplicate_rate_interval=Interval(0.0, 0.5), extra_effects=duplicated,
        lost_acknowledged=lost, validity="invalid", anomalies=anomalies,
    )  # fmt: skip


def _duplicate(op_id: str, explanation: str = "") -> Anomaly:
    attempts = (
        AttemptEnd(t=1.0, op_id=op_id, attempt=2, outcome="ok", status=201, latency_s=0.041),
        AttemptEnd(t=0.0, op_id=op_id, attempt=1, outcome="info", error="reset", latency_s=0.012),
    )
    return Anomaly("duplicate_effect", op_id, 2, ("ch_1", "ch_2"), attempts, explanation=explanation)


OUTCOME = VariantOutcome(
    "naive",
    (
        _cell("dropped", 10, (_duplicate("op-1"),)),
        _cell("latency", 30, (_duplicate("op-7", "the response to #1 was lost; #2 charged again"),), lost=1),
    ),
    Path("/reports/run/index.html"),
)


def test_variant_numbers_are_taken_over_all_its_cells() -> None:
    assert OUTCOME.operations == 40
    assert OUTCOME.duplicate_rate == 2 / 40
    assert OUTCOME.ops_with_duplicates == 2
    assert OUTCOME.lost_acknowledged == 1
    assert isinstance(OUTCOME.duplicate_rate, EvidenceRate) and OUTCOME.duplicate_rate.outcome is OUTCOME
    assert isinstance(OUTCOME.ops_with_duplicates, AnomalyCount)
    empty = dataclasses.replace(OUTCOME, cells=())
    assert empty.ops_with_duplicates == 0 and empty.duplicate_rate != empty.duplicate_rate  # NaN


def test_a_failed_comparison_tells_the_duplicated_operations_attempts(pytestconfig: pytest.Config) -> None:
    lines = pytest_assertrepr_compare(pytestconfig, "==", OUTCOME.duplicate_rate, 0)
    assert lines == [
        "0.05 == 0",
        "naive: 2 of 40 operations took effect more than once",
        "  dropped: op-1 (2 effects): #1 info reset (12 ms) → #2 ok 201 (41 ms)",
        "  latency: op-7 (2 effects): the response to #1 was lost; #2 charged again",
        "report: /reports/run/index.html",
    ]
    reversed_sides = pytest_assertrepr_compare(pytestconfig, "<=", 0, OUTCOME.ops_with_duplicates)
    assert reversed_sides is not None and reversed_sides[:2] == [
        "0 <= 2",
        "naive: 2 of 40 operations took effect more than once",
    ]
    lost = pytest_assertrepr_compare(pytestconfig, "==", OUTCOME.lost_acknowledged, 0)
    assert lost == [
        "1 == 0",
        "naive: 0 of 40 operations were acknowledged but never took effect",
        "report: /reports/run/index.html",
    ]
    assert pytest_assertrepr_compare(pytestconfig, "==", 0.05, 0) is None


def test_only_the_first_stories_are_told() -> None:
    many = tuple(_duplicate(f"op-{n}") for n in range(plugin.STORIES_SHOWN + 3))
    outcome = VariantOutcome("naive", (_cell("dropped", 50, many),), Path("r.html"))
    lines = plugin.evidence_lines(outcome, "duplicate_effect")
    assert lines[0] == "naive: 13 of 50 operations took effect more than once"
    assert lines[-2:] == ["  ... and 3 more", "report: r.html"]
    assert len(lines) == 1 + plugin.STORIES_SHOWN + 2


FIXTURES_TEST = """
import json
import httpx

def test_target_behind_the_fault_proxy(fault_proxy, target, tmp_path):
    payments = target("payments", "idempotent")
    proxy = fault_proxy.create_proxy("payments", upstream=payments.endpoint.hostport)
    url = f"{proxy.base_url}/charges"
    body = {"amount": 500, "currency": "eur", "customer": "c1", "reference": "op-1"}
    headers = {"Idempotency-Key": "key-1"}
    first = httpx.post(url, json=body, headers=headers, trust_env=False)
    second = httpx.post(url, json=body, headers=headers, trust_env=False)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] == second.json()["id"]
    effects = httpx.get(payments.endpoint.base_url + "/effects", trust_env=False).json()
    assert [effect["reference"] for effect in effects] == ["op-1"]
    with open(OUT, "w") as out:
        json.dump({"target": payments.endpoint.base_url, "proxy": fault_proxy.url}, out)
"""


def test_target_and_fault_proxy_fixtures_start_and_end_their_processes(pytester: pytest.Pytester) -> None:
    out = pytester.path / "addresses.json"
    pytester.makepyfile(test_fixtures=f"OUT = {str(out)!r}\n" + FIXTURES_TEST)
    result = pytester.runpytest_subprocess("-q")
    result.assert_outcomes(passed=1)
    addresses = json.loads(out.read_text())
    for url in (addresses["target"] + "/effects", addresses["proxy"] + "/version"):
        with pytest.raises(httpx.ConnectError):
            httpx.get(url, timeout=2.0, trust_env=False)


CHAOS_TEST = """
SCENARIO = "tests/e2e/small_payments.yaml"

def test_idempotent_never_charges_twice(chaos_run):
    run = chaos_run(SCENARIO, operations=15, faults=("dropped-responses",))
    assert run.cell("idempotent", "dropped-responses").operations == 15
    assert run.variant("idempotent").duplicate_rate == 0

def test_naive_charges_twice(chaos_run):
    run = chaos_run(SCENARIO, operations=15, faults="dropped-responses")
    assert run.variant("naive").duplicate_rate == 0
"""


def test_chaos_run_passes_for_idempotent_and_tells_the_story_for_naive(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_chaos=CHAOS_TEST)
    result = pytester.runpytest_subprocess("-q", "--basetemp", str(pytester.path / "tmp"))
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    count = re.search(r"naive: (\d+) of 15 operations took effect more than once", output)
    assert count is not None and int(count.group(1)) >= 1, output
    story = re.search(r"^E\s+dropped-responses: nai-\S+ \(([2-9]) effects\): (.*)$", output, re.MULTILINE)
    assert story is not None, output
    assert "attempt 1" in story.group(2) and "201" in story.group(2), output
    # each run went into its test's tmp_path
    base = pytester.path / "tmp"
    reports = [path.relative_to(base) for path in base.glob("*/chaos-runs/*-payments-small/index.html")]
    tests = [path.parts[0] for path in reports if not (base / path.parts[0]).is_symlink()]
    assert sorted(name.rstrip("_0123456789") for name in tests) == [
        "test_idempotent_never_charges",
        "test_naive_charges_twice",
    ]
