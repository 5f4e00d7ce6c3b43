"""The gate: every threshold type on every fault cell of its variant, unknown cells, and exit status."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from factories import cell_verdict, run_result

from harness.errors import EXIT_GATE_FAILED, EXIT_OK
from harness.gate import NO_CELLS, evaluate_gates, exit_status, format_threshold, gate_label
from harness.result import GateResult, RunResult
from harness.scenario import GateSpec
from harness.verdict import CellVerdict, Interval, RunVerdict

_COUNTS: dict[str, Any] = {
    "operations": 200,
    "attempts": 260,
    "retries": 60,
    "acknowledged": 190,
    "unknown": 10,
    "duplicate_rate_interval": Interval(0.0, 0.0188),
}


def cell(variant: str, fault: str, **counts: Any) -> CellVerdict:
    """A cell with the given counts; duplicate_rate follows ops_with_duplicates over 200 operations."""
    return cell_verdict(variant, fault, **{**_COUNTS, **counts})


VERDICT = RunVerdict(
    cells=(
        cell("naive", "dropped", ops_with_duplicates=25, validity="invalid"),
        cell("naive", "latency", ops_with_duplicates=0),
        cell("idempotent", "dropped", ops_with_duplicates=0, replay_mismatches=1),
        cell("idempotent", "crash", ops_with_duplicates=2, lost_acknowledged=3, validity="invalid"),
    )
)


def outcomes(results: tuple[GateResult, ...]) -> list[tuple[str, str, str, float, bool]]:
    return [(r.variant, r.fault, r.name, r.actual, r.passed) for r in results]


def test_max_duplicate_rate_is_checked_on_every_fault_cell_of_its_variant() -> None:
    results = evaluate_gates({"idempotent": GateSpec(max_duplicate_rate=0.005)}, VERDICT)

    assert outcomes(results) == [
        ("idempotent", "dropped", "max_duplicate_rate", 0.0, True),
        ("idempotent", "crash", "max_duplicate_rate", 0.01, False),
    ]
    assert [r.threshold for r in results] == [0.005, 0.005]
    assert results[0].message == "max_duplicate_rate ≤ 0.5% held (actual 0%)"
    assert results[1].message == "max_duplicate_rate ≤ 0.5% failed (actual 1%)"


def test_max_duplicate_rate_passes_at_exactly_the_threshold() -> None:
    results = evaluate_gates({"idempotent": GateSpec(max_duplicate_rate=0.01)}, VERDICT)

    assert [r.passed for r in results] == [True, True]


def test_min_duplicate_rate_failure_says_the_harness_was_not_sensitive() -> None:
    results = evaluate_gates({"naive": GateSpec(min_duplicate_rate=0.05)}, VERDICT)

    assert outcomes(results) == [
        ("naive", "dropped", "min_duplicate_rate", 0.125, True),
        ("naive", "latency", "min_duplicate_rate", 0.0, False),
    ]
    assert results[0].message == "min_duplicate_rate ≥ 5% held (actual 12.5%)"
    assert results[1].message == (
        "min_duplicate_rate ≥ 5% failed (actual 0%): the harness was not sensitive enough to show "
        "duplicates for naive under latency"
    )


def test_min_duplicate_rate_passes_at_exactly_the_threshold() -> None:
    results = evaluate_gates({"naive": GateSpec(min_duplicate_rate=0.125)}, VERDICT)

    assert [r.passed for r in results] == [True, False]


def test_max_lost_acknowledged() -> None:
    strict = evaluate_gates({"idempotent": GateSpec(max_lost_acknowledged=0)}, VERDICT)
    lenient = evaluate_gates({"idempotent": GateSpec(max_lost_acknowledged=3)}, VERDICT)

    assert outcomes(strict) == [
        ("idempotent", "dropped", "max_lost_acknowledged", 0.0, True),
        ("idempotent", "crash", "max_lost_acknowledged", 3.0, False),
    ]
    assert strict[1].message == "max_lost_acknowledged ≤ 0 failed (actual 3)"
    assert [r.passed for r in lenient] == [True, True]


def test_max_replay_mismatches() -> None:
    results = evaluate_gates({"idempotent": GateSpec(max_replay_mismatches=0)}, VERDICT)

    assert outcomes(results) == [
        ("idempotent", "dropped", "max_replay_mismatches", 1.0, False),
        ("idempotent", "crash", "max_replay_mismatches", 0.0, True),
    ]


def test_one_result_per_threshold_per_cell_in_stable_order() -> None:
    gates = {
        "naive": GateSpec(min_duplicate_rate=0.01),
        "idempotent": GateSpec(max_duplicate_rate=0.0, max_lost_acknowledged=0, max_replay_mismatches=0),
    }

    results = evaluate_gates(gates, VERDICT)

    assert [(r.variant, r.fault, r.name) for r in results] == [
        ("naive", "dropped", "min_duplicate_rate"),
        ("naive", "latency", "min_duplicate_rate"),
        ("idempotent", "dropped", "max_duplicate_rate"),
        ("idempotent", "dropped", "max_lost_acknowledged"),
        ("idempotent", "dropped", "max_replay_mismatches"),
        ("idempotent", "crash", "max_duplicate_rate"),
        ("idempotent", "crash", "max_lost_acknowledged"),
        ("idempotent", "crash", "max_replay_mismatches"),
    ]
    assert [r.passed for r in results] == [True, False, True, True, False, False, False, True]


def test_an_empty_gate_spec_checks_nothing() -> None:
    assert evaluate_gates({"naive": GateSpec()}, VERDICT) == ()
    assert evaluate_gates({}, VERDICT) == ()


def test_unknown_cell_fails_every_gate_on_it_and_says_why() -> None:
    broken = cell("idempotent", "crash", validity="unknown", error="ProbeError: ledger unreachable")
    verdict = RunVerdict(cells=(VERDICT.cells[2], broken))
    gates = {"idempotent": GateSpec(max_duplicate_rate=1.0, max_lost_acknowledged=100)}

    results = evaluate_gates(gates, verdict)

    assert [(r.fault, r.name, r.passed) for r in results] == [
        ("dropped", "max_duplicate_rate", True),
        ("dropped", "max_lost_acknowledged", True),
        ("crash", "max_duplicate_rate", False),
        ("crash", "max_lost_acknowledged", False),
    ]
    assert math.isnan(results[2].actual)
    assert results[2].message == (
        "max_duplicate_rate ≤ 100% cannot be checked: the cell is inconclusive "
        "(ProbeError: ledger unreachable)"
    )
    assert results[3].message.endswith("(ProbeError: ledger unreachable)")


def test_gated_variant_without_cells_fails_rather_than_passing_silently() -> None:
    results = evaluate_gates({"retrying": GateSpec(max_duplicate_rate=0.0)}, VERDICT)

    assert [(r.variant, r.fault, r.name, r.passed) for r in results] == [
        ("retrying", NO_CELLS, "max_duplicate_rate", False)
    ]
    assert results[0].message == "max_duplicate_rate ≤ 0% cannot hold: no cells were run for variant retrying"


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("max_duplicate_rate", 0.01, "1%"),
        ("min_duplicate_rate", 0.125, "12.5%"),
        ("max_duplicate_rate", 0.0005, "0.05%"),
        ("max_lost_acknowledged", 3.0, "3"),
        ("max_replay_mismatches", float("nan"), "n/a"),
    ],
)
def test_format_threshold(name: str, value: float, shown: str) -> None:
    assert format_threshold(name, value) == shown


def test_gate_label() -> None:
    gate = GateResult("naive", "dropped", "min_duplicate_rate", 0.05, 0.0, False, "")

    assert gate_label(gate) == "min_duplicate_rate ≥ 5%"


def _result(gates: tuple[GateResult, ...]) -> RunResult:
    return run_result(VERDICT, gates, Path("out"))


def test_exit_status() -> None:
    held = evaluate_gates({"naive": GateSpec(min_duplicate_rate=0.1)}, RunVerdict(cells=VERDICT.cells[:1]))
    broken = evaluate_gates({"naive": GateSpec(min_duplicate_rate=0.1)}, VERDICT)

    assert exit_status(_result(held)) == EXIT_OK == 0
    assert exit_status(_result(broken)) == EXIT_GATE_FAILED == 1
    assert exit_status(_result(())) == EXIT_OK


def test_gate_limited_to_faults_checks_only_those_cells() -> None:
    gates = {
        "naive": (
            GateSpec(min_duplicate_rate=0.01, faults=("dropped",)),
            GateSpec(max_lost_acknowledged=0),
        )
    }
    assert outcomes(evaluate_gates(gates, VERDICT)) == [
        ("naive", "dropped", "min_duplicate_rate", 0.125, True),
        ("naive", "dropped", "max_lost_acknowledged", 0.0, True),
        ("naive", "latency", "max_lost_acknowledged", 0.0, True),
    ]


def test_gate_limited_to_faults_that_did_not_run_yields_nothing() -> None:
    gates = {"naive": GateSpec(min_duplicate_rate=0.01, faults=("crash",))}
    assert evaluate_gates(gates, VERDICT) == ()
