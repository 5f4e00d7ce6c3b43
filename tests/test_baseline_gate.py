"""The baseline gate: a run's cells against an earlier run's, on hand-made run.json documents, through
``harness gate`` and through ``harness run --baseline`` on a small real run."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import pytest

from harness.baseline import baseline_gates, compare_runs, require_same_cells
from harness.cli import main
from harness.errors import HarnessError
from harness.gate import BASELINE_GATE, format_threshold
from harness.report.baseline_view import baseline_markdown
from harness.report.markdown import append_step_summary
from harness.result import RUN_SCHEMA_VERSION

SMALL = Path(__file__).parent / "e2e" / "small_payments.yaml"


def cell(
    variant: str,
    fault: str,
    duplicates: int,
    low: float,
    high: float,
    lost: int = 0,
    replay: int = 0,
    validity: str = "valid",
    operations: int = 200,
) -> dict[str, Any]:
    duplicate_numbers = {"ops_with_duplicates": duplicates, "duplicate_rate": duplicates / operations}
    return {
        "variant": variant,
        "fault": fault,
        "operations": operations,
        "validity": validity,
        "checks": [
            check("duplicate_effects", duplicate_numbers, {"duplicate_rate": {"low": low, "high": high}}),
            check("lost_acknowledged", {"lost_acknowledged": lost}),
            check("replay_mismatch", {"replay_mismatches": replay}),
        ],
    }


def check(name: str, numbers: dict[str, Any], intervals: dict[str, Any] | None = None) -> dict[str, Any]:
    """One checker's result as run.json holds it."""
    return {"checker": name, "numbers": numbers, "intervals": intervals or {}}


def run(*cells: dict[str, Any], scenario: str = "payments") -> dict[str, Any]:
    verdict = {"cells": list(cells)}
    return {"schema_version": RUN_SCHEMA_VERSION, "scenario_name": scenario, "verdict": verdict}


BASELINE = run(
    cell("naive", "dropped", 40, 0.15, 0.26),
    cell("idempotent", "dropped", 0, 0.0, 0.0188),
    cell("idempotent", "crash", 0, 0.0, 0.0188, lost=1),
)


def test_same_numbers_hold_everywhere() -> None:
    comparisons = compare_runs(copy.deepcopy(BASELINE), BASELINE)
    assert [(c.variant, c.fault, c.passed) for c in comparisons] == [
        ("naive", "dropped", True),
        ("idempotent", "dropped", True),
        ("idempotent", "crash", True),
    ]


def test_a_rate_whose_interval_rises_above_the_baseline_interval_fails() -> None:
    inside = run(
        cell("naive", "dropped", 60, 0.2367, 0.3736),  # 30% > the baseline's 26%, but within the noise
        cell("idempotent", "dropped", 0, 0.0, 0.0188),
        cell("idempotent", "crash", 0, 0.0, 0.0188, lost=1),
    )
    assert all(c.passed for c in compare_runs(inside, BASELINE))
    above = run(
        cell("naive", "dropped", 80, 0.3354, 0.4690),  # 40%: its interval starts above 26%
        cell("idempotent", "dropped", 4, 0.0078, 0.0503),  # a clean cell is clean no more
        cell("idempotent", "crash", 0, 0.0, 0.0188, lost=1),
    )
    comparisons = compare_runs(above, BASELINE)
    assert [c.passed for c in comparisons] == [False, False, True]
    assert comparisons[0].regressions == (
        "duplicate rate 40.0% [33.5–46.9] is above the baseline's 95% interval [15.0–26.0]",
    )
    assert comparisons[1].regressions == ("4 duplicated operations where the baseline had none",)


def test_more_lost_acknowledged_or_replay_mismatches_fail_fewer_hold() -> None:
    now = run(
        cell("naive", "dropped", 40, 0, 0, replay=0),
        cell("idempotent", "dropped", 0, 0, 0, replay=2),
        cell("idempotent", "crash", 0, 0, 0, lost=2),
    )
    comparisons = compare_runs(now, BASELINE)
    assert [c.regressions for c in comparisons] == [
        (),
        ("replay mismatches rose from 0 to 2",),
        ("lost acknowledged rose from 1 to 2",),
    ]
    fewer = run(
        cell("naive", "dropped", 0, 0, 0),
        cell("idempotent", "dropped", 0, 0, 0),
        cell("idempotent", "crash", 0, 0, 0, lost=0),
    )
    assert all(c.passed for c in compare_runs(fewer, BASELINE))


def test_a_cell_that_could_not_be_judged_fails_on_either_side() -> None:
    now = copy.deepcopy(BASELINE)
    now["verdict"]["cells"][0]["validity"] = "unknown"
    now["verdict"]["cells"][1]["checks"][0]["numbers"]["duplicate_rate"] = None  # NaN is null in run.json
    comparisons = compare_runs(now, BASELINE)
    assert [c.regressions for c in comparisons] == [
        ("the checker could not judge this cell now",),
        ("the checker could not judge this cell now",),
        (),
    ]
    judged = compare_runs(BASELINE, now)
    assert judged[0].regressions == ("the checker could not judge this cell in the baseline",)


def test_every_compared_cell_becomes_one_gate_result() -> None:
    now = run(
        cell("naive", "dropped", 40, 0.15, 0.26),
        cell("idempotent", "dropped", 4, 0.0078, 0.0503),
        cell("idempotent", "crash", 0, 0.0, 0.0188, lost=1),
    )
    gates = baseline_gates(compare_runs(now, BASELINE))
    assert [(g.variant, g.fault, g.name, g.threshold, g.actual, g.passed) for g in gates] == [
        ("naive", "dropped", BASELINE_GATE, 0.26, 0.2, True),
        ("idempotent", "dropped", BASELINE_GATE, 0.0188, 0.02, False),
        ("idempotent", "crash", BASELINE_GATE, 0.0188, 0.0, True),
    ]
    assert gates[1].message == (
        "regressed against the baseline: 4 duplicated operations where the baseline had none "
        "(duplicate rate 2.0% vs baseline 0.0% [0.0–1.9], lost acknowledged 0 vs 0, "
        "replay mismatches 0 vs 0)"
    )
    assert format_threshold(BASELINE_GATE, 0.0188) == "1.88%"


@pytest.mark.parametrize(
    ("now", "message"),
    [
        (
            run(cell("naive", "dropped", 0, 0, 0)),
            "the cells do not match baseline "
            "(only in the baseline: idempotent × crash, idempotent × dropped)",
        ),
        (
            run(*BASELINE["verdict"]["cells"], cell("naive", "latency", 0, 0, 0)),
            "the cells do not match baseline (not in the baseline: naive × latency)",
        ),
        (
            run(*BASELINE["verdict"]["cells"], scenario="orders"),
            "baseline is a run of scenario 'payments', not 'orders': the cells cannot be compared",
        ),
        (
            {**BASELINE, "schema_version": 99},
            "run: run.json schema_version 99 is not supported (this harness reads version 2)",
        ),
        ({"schema_version": RUN_SCHEMA_VERSION}, "run: not a run.json: no verdict.cells list"),
    ],
)
def test_documents_that_cannot_be_compared_raise_one_clear_error(now: dict[str, Any], message: str) -> None:
    with pytest.raises(HarnessError) as raised:
        compare_runs(now, BASELINE)
    assert str(raised.value) == message


def test_a_baseline_of_another_schema_version_is_refused() -> None:
    with pytest.raises(HarnessError, match="^baseline: run.json schema_version 1 is not supported"):
        compare_runs(BASELINE, {**BASELINE, "schema_version": 1})
    cells = [("naive", "dropped"), ("idempotent", "dropped"), ("idempotent", "crash")]
    require_same_cells(BASELINE, "payments", cells)  # the same cells in another order: no error


def test_markdown_table_and_step_summary(tmp_path: Path) -> None:
    now = run(
        cell("naive", "dropped", 40, 0.15, 0.26),
        cell("idempotent", "dropped", 4, 0.0078, 0.0503),
        cell("idempotent", "crash", 0, 0.0, 0.0188, lost=1),
    )
    text = baseline_markdown(compare_runs(now, BASELINE), "payments")
    assert text.splitlines()[5] == (
        "| idempotent × dropped | 0.0% [0.0–1.9] | 2.0% | 0 → 0 | 0 → 0 | REGRESSED: 4 duplicated "
        "operations where the baseline had none |"
    )
    assert append_step_summary(text, environ={}) is None
    summary = tmp_path / "step.md"
    summary.write_text("before\n")
    assert append_step_summary(text, environ={"GITHUB_STEP_SUMMARY": str(summary)}) == summary
    assert summary.read_text() == "before\n" + text


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def test_gate_command_exit_status_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    baseline = _write(tmp_path / "main" / "run.json", BASELINE)
    same = _write(tmp_path / "same" / "run.json", BASELINE)
    worse = copy.deepcopy(BASELINE)
    worse["verdict"]["cells"][2]["checks"][1]["numbers"]["lost_acknowledged"] = 3
    worse_path = _write(tmp_path / "worse" / "run.json", worse)

    assert main(["gate", str(same), "--baseline", str(baseline)]) == 0
    assert "✔ no regression in 3 cells" in capsys.readouterr().out
    assert main(["gate", str(worse_path.parent), "--baseline", str(baseline.parent)]) == 1
    out = capsys.readouterr().out
    assert "✘ 1 of 3 cells regressed" in out
    assert "REGRESSED: lost acknowledged rose from 1 to 3" in " ".join(out.split())


@pytest.mark.parametrize(
    ("baseline", "error"),
    [
        (None, "cannot read run.json: No such file or directory"),
        ({**BASELINE, "schema_version": 7}, "run.json schema_version 7 is not supported"),
        (run(cell("naive", "dropped", 0, 0, 0)), "the cells do not match"),
    ],
)
def test_gate_command_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], baseline: dict[str, Any] | None, error: str
) -> None:
    now = _write(tmp_path / "now" / "run.json", BASELINE)
    old = tmp_path / "old" / "run.json"
    if baseline is not None:
        _write(old, baseline)
    assert main(["gate", str(now), "--baseline", str(old)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert error in err and "Traceback" not in err


def test_run_with_a_baseline_adds_one_gate_per_cell_and_writes_the_summaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    common = ["--out", str(out), "--quiet", "--operations", "15", "--fault", "dropped-responses"]
    step_summary = tmp_path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    assert main(["run", str(SMALL), *common]) == 0
    first = (out / "latest").resolve()
    summary = (first / "summary.md").read_text()
    assert summary.startswith("## ✔ idempotency: payments-small — PASS\n\n| scenario | variant | fault |")
    assert step_summary.read_text() == summary

    baseline = json.loads((first / "run.json").read_text())
    naive = next(c for c in baseline["verdict"]["cells"] if c["variant"] == "naive")
    duplicates = next(check for check in naive["checks"] if check["checker"] == "duplicate_effects")
    duplicates["intervals"]["duplicate_rate"]["high"] = -1.0  # any rate now is a rise beyond it
    baseline_path = _write(tmp_path / "main" / "run.json", baseline)

    assert main(["run", str(SMALL), *common, "--baseline", str(baseline_path)]) == 1
    second = (out / "latest").resolve()
    assert second != first
    cases = list(ElementTree.parse(second / "junit.xml").getroot().iter("testcase"))
    compared = [case for case in cases if BASELINE_GATE in (case.get("name") or "")]
    assert [(case.get("classname"), case.find("failure") is not None) for case in compared] == [
        ("payments-small.naive", True),
        ("payments-small.idempotent", False),
    ]
    gates = json.loads((second / "run.json").read_text())["gates"]
    assert [g["passed"] for g in gates if g["name"] == BASELINE_GATE] == [False, True]
    second_summary = (second / "summary.md").read_text()
    assert "against the baseline" in second_summary and "REGRESSED: duplicate rate" in second_summary
    failed = next(line for line in second_summary.splitlines() if line.startswith("- **naive × "))
    assert "regressed against the baseline" in failed and "; e.g. `nai-" in failed  # duplicated ops
    assert step_summary.read_text() == summary + second_summary


def test_run_refuses_a_mismatched_baseline_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only_naive = run(cell("naive", "dropped-responses", 0, 0, 0), scenario="payments-small")
    baseline = _write(tmp_path / "main" / "run.json", only_naive)
    status = main(["run", str(SMALL), "--out", str(tmp_path / "reports"), "--baseline", str(baseline)])
    assert status == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "the cells do not match" in err and "not in the baseline: idempotent × crash" in err
    assert not (tmp_path / "reports").exists()
