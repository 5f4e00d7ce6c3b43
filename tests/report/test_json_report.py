"""run.json: complete, deterministic, and refused when its schema version is unknown."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.errors import HarnessError
from harness.history import parse_event
from harness.report.json_report import read_run_json, render_run_json, write_run_json
from harness.result import RUN_SCHEMA_VERSION, GateResult, RunResult
from harness.tally import CellTally


def test_round_trip_keeps_every_count(run_result: RunResult, tmp_path: Path) -> None:
    document = read_run_json(write_run_json(run_result, tmp_path / "run.json"))

    assert document["schema_version"] == RUN_SCHEMA_VERSION
    assert list(document)[0] == "schema_version"
    assert (document["run_id"], document["seed"], document["scenario_name"]) == (
        "run-20250615-150640-ab12",
        7,
        "payments-retries",
    )
    assert (document["started_at"], document["duration_s"]) == (1_750_000_000.0, 21.5)
    assert document["passed"] is False
    assert document["variants"] == ["naive", "idempotent"]
    assert document["faults"] == ["dropped_response", "crash"]
    assert document["out_dir"] == str(run_result.out_dir)
    cells = document["verdict"]["cells"]
    assert [(c["variant"], c["fault"]) for c in cells] == [
        ("naive", "dropped_response"),
        ("naive", "crash"),
        ("idempotent", "dropped_response"),
        ("idempotent", "crash"),
    ]
    first = cells[0]
    assert {key: first[key] for key in ("operations", "attempts", "retries", "acknowledged", "rejected")} == {
        "operations": 40,
        "attempts": 52,
        "retries": 12,
        "acknowledged": 36,
        "rejected": 1,
    }
    duplicates = _check(first, "duplicate_effects")
    assert (first["unknown"], duplicates["numbers"]["ops_with_duplicates"]) == (3, 5)
    assert duplicates["numbers"]["extra_effects"] == 6
    assert duplicates["numbers"]["duplicate_rate"] == 0.125
    assert duplicates["intervals"]["duplicate_rate"] == {"low": 0.0546, "high": 0.2614}
    assert (first["validity"], duplicates["validity"]) == ("invalid", "invalid")
    assert len(first["attempt_latencies_s"]) == 52
    assert len(first["effect_times"]) == 46
    assert [_check(c, "lost_acknowledged")["numbers"]["lost_acknowledged"] for c in cells] == [0, 1, 0, 0]
    assert [_check(c, "replay_mismatch")["numbers"]["replay_mismatches"] for c in cells] == [0, 0, 0, 2]
    assert [c["crashes"] for c in cells] == [0, 2, 0, 2]


def _check(cell: dict[str, Any], checker: str) -> dict[str, Any]:
    """One checker's result in a run.json cell."""
    found: dict[str, Any] = next(check for check in cell["checks"] if check["checker"] == checker)
    return found


def test_anomalies_keep_their_attempts_and_faults_as_events(run_result: RunResult, tmp_path: Path) -> None:
    document = read_run_json(write_run_json(run_result, tmp_path / "run.json"))
    cells = document["verdict"]["cells"]
    anomalies = [a for cell in cells for check in cell["checks"] for a in check["anomalies"]]

    assert [a["op_id"] for a in anomalies] == [
        "op-naive-drop-0007",
        "op-naive-drop-0019",
        "op-naive-crash-0003",
        "op-naive-crash-0021",
        "op-idem-crash-0011",
    ]
    first = anomalies[0]
    assert first["kind"] == "duplicate_effect"
    assert first["effect_count"] == 2
    attempts = [parse_event(json.dumps(attempt)) for attempt in first["attempts"]]
    assert attempts == list(run_result.verdict.cells[0].anomalies[0].attempts)
    assert first["nearby_faults"][0]["type"] == "fault"
    assert first["explanation"] == "attempt 1 timed out after the charge; retry charged again"


def test_gates_are_listed_with_thresholds(run_result: RunResult, tmp_path: Path) -> None:
    document = read_run_json(write_run_json(run_result, tmp_path / "run.json"))

    assert len(document["gates"]) == 6
    failed = [g for g in document["gates"] if not g["passed"]]
    assert [(g["variant"], g["fault"], g["name"], g["threshold"], g["actual"]) for g in failed] == [
        ("idempotent", "crash", "max_duplicate_rate", 0.0, 0.025)
    ]


def test_output_is_deterministic_and_strict_json(run_result: RunResult) -> None:
    unknown_actual = GateResult("idempotent", "crash", "max_duplicate_rate", 0.0, float("nan"), False, "n/a")
    result = dataclasses.replace(run_result, gates=(unknown_actual,))

    text = render_run_json(result)

    assert text == render_run_json(result)
    assert "NaN" not in text
    assert json.loads(text)["gates"][0]["actual"] is None


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ('{"schema_version": 999}', "schema_version 999 is not supported"),
        ('{"run_id": "x"}', "schema_version None is not supported"),
        ("[1, 2]", "expected a JSON object, got list"),
        ("{not json", "not valid JSON"),
    ],
)
def test_read_refuses_what_it_would_misread(tmp_path: Path, content: str, complaint: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(content, encoding="utf-8")

    with pytest.raises(HarnessError, match=complaint):
        read_run_json(path)


def test_read_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="cannot read run.json"):
        read_run_json(tmp_path / "absent.json")


def _with_a_tally(run_result: RunResult) -> RunResult:
    """``run_result`` with its first cell's tally set, as a run's check sets it."""
    tally = CellTally(
        operations={"acknowledged": 36, "failed": 1, "gave_up": 2},
        unfinished=1,
        attempts={"answered": {"201": 36, "409": 1}, "timeout": {"none": 15}},
        retries={"timeout": {"none": 12}},
        duplicate_effects=6,
        duplicated_operations=5,
        exposed_operations=20,
    )
    cells = run_result.verdict.cells
    verdict = dataclasses.replace(
        run_result.verdict, cells=(dataclasses.replace(cells[0], tallies=tally), *cells[1:])
    )
    return dataclasses.replace(run_result, verdict=verdict)


def test_each_cell_keeps_its_tallies(run_result: RunResult, tmp_path: Path) -> None:
    document = read_run_json(write_run_json(_with_a_tally(run_result), tmp_path / "run.json"))

    first, second = document["verdict"]["cells"][:2]
    assert first["tallies"] == {
        "operations": {"acknowledged": 36, "failed": 1, "gave_up": 2},
        "unfinished": 1,
        "attempts": {"answered": {"201": 36, "409": 1}, "timeout": {"none": 15}},
        "retries": {"timeout": {"none": 12}},
        "duplicate_effects": 6,
        "duplicated_operations": 5,
        "exposed_operations": 20,
        "crashes": 0,
    }
    assert second["tallies"]["operations"] == {}  # a cell checked by no scan (hand-made here) tallied nothing


@pytest.mark.parametrize("older", ["baseline", "now"])
def test_a_run_json_from_before_tallies_still_gates(
    run_result: RunResult, tmp_path: Path, older: str
) -> None:
    document = json.loads(render_run_json(_with_a_tally(run_result)))
    before = copy.deepcopy(document)
    for cell in before["verdict"]["cells"]:
        del cell["tallies"]
    files = {"baseline": tmp_path / "baseline.json", "now": tmp_path / "now.json"}
    for name, path in files.items():
        path.write_text(json.dumps(before if name == older else document), encoding="utf-8")

    assert main(["gate", str(files["now"]), "--baseline", str(files["baseline"])]) == 0
