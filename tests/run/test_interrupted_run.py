"""An interrupted run reports the cells that finished, and ``harness report`` remakes any run's reports."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from run_fakes import SCENARIO, FakeLoad, FakeProxyClient, FakeRuntime, assert_all_cleaned_up, fake_effects

import harness.run
from harness.cli import main
from harness.errors import NotARunFolderError
from harness.report.rebuild import rebuild_result
from harness.verdict import INTERRUPTED_REASON

REPORTS = ("run.json", "index.html", "junit.xml", "summary.md")


def faked_run_class(load: FakeLoad) -> type[harness.run.Run]:
    class FakedRun(harness.run.Run):
        """The CLI's Run with every seam faked, the load given."""

        def __init__(self, **kwargs: Any) -> None:
            fakes = {"runtime": FakeRuntime(), "proxy_client": FakeProxyClient(), "load_driver": load}
            super().__init__(**kwargs, **fakes, effects_probe=fake_effects)

    return FakedRun


def run_cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, load: FakeLoad) -> tuple[int, Path]:
    """``harness run`` of the fake scenario with ``load``; its exit status and its run folder."""
    monkeypatch.setattr(harness.run, "Run", faked_run_class(load))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step.md"))
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    status = main(["run", str(path), "--out", str(tmp_path / "reports"), "--quiet"])
    return status, (tmp_path / "reports" / "latest").resolve()


def interrupted_in_second_cell() -> FakeLoad:
    return FakeLoad(raise_in="idempotent", error=KeyboardInterrupt())


def test_an_interrupted_run_reports_its_finished_cells_and_marks_the_rest_interrupted(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, run_dir = run_cli(monkeypatch, tmp_path, interrupted_in_second_cell())
    shown = capsys.readouterr()
    assert status == 2
    assert shown.err.splitlines() == [
        "interrupted: everything the run started has been stopped",
        f"partial report of the 1 of 2 cells that finished: {run_dir / 'index.html'}",
    ]
    assert "Gates: INTERRUPTED" in shown.out and "idempotent × dropped: " + INTERRUPTED_REASON in shown.out
    document = json.loads((run_dir / "run.json").read_text())
    assert (document["interrupted"], document["passed"]) == (True, False)
    cells = {cell["variant"]: cell for cell in document["verdict"]["cells"]}
    assert (cells["naive"]["interrupted"], cells["naive"]["validity"], cells["naive"]["operations"]) == (
        False,
        "invalid",  # its duplicate was found: a finished cell keeps its verdict
        3,
    )
    assert (cells["idempotent"]["interrupted"], cells["idempotent"]["validity"]) == (True, "unknown")
    # the idempotent cell's gate (max_duplicate_rate 0) would hold on an empty cell: it must not pass
    gates = {gate["variant"]: gate["passed"] for gate in document["gates"]}
    assert gates == {"idempotent": False, "naive": True}
    failures = ET.parse(run_dir / "junit.xml").getroot().iter("failure")
    assert sorted(failure.get("type") for failure in failures) == ["Interrupted", "Interrupted"]
    html = (run_dir / "index.html").read_text()
    assert "INTERRUPTED" in html and ">interrupted</span>" in html
    assert "INTERRUPTED" in (run_dir / "summary.md").read_text()


def test_an_interrupted_fake_run_still_cleans_up_before_it_reports(tmp_path: Path) -> None:
    from run_fakes import fake_run, scenario_from

    run, runtime, proxy = fake_run(scenario_from(SCENARIO, tmp_path), tmp_path, interrupted_in_second_cell())
    with pytest.raises(harness.run.RunInterrupted) as raised:
        run.run()
    assert_all_cleaned_up(runtime, proxy)
    assert [cell.state for cell in raised.value.result.verdict.cells] == ["invalid", "interrupted"]


def test_harness_report_rebuilds_identical_verdicts_from_a_run_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, run_dir = run_cli(monkeypatch, tmp_path, FakeLoad())
    assert status == 0
    before = json.loads((run_dir / "run.json").read_text())
    for name in REPORTS:
        (run_dir / name).unlink()
    capsys.readouterr()
    assert main(["report", str(run_dir)]) == 0
    assert "Gates: PASS" in capsys.readouterr().out
    after = json.loads((run_dir / "run.json").read_text())
    for field in ("verdict", "gates", "run_id", "seed", "runtime", "proxy", "faults", "passed"):
        assert after[field] == before[field], field
    assert all((run_dir / name).is_file() for name in REPORTS)


def test_harness_report_on_an_interrupted_run_folder_reports_its_finished_cells(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, run_dir = run_cli(monkeypatch, tmp_path, interrupted_in_second_cell())
    before = json.loads((run_dir / "run.json").read_text())
    for name in REPORTS:
        (run_dir / name).unlink()
    assert main(["report", str(run_dir)]) == 1  # the report is made; an interrupted run is no pass
    after = json.loads((run_dir / "run.json").read_text())
    assert after["verdict"] == before["verdict"] and after["interrupted"] is True


def test_a_gate_that_fails_in_the_evidence_fails_the_rebuilt_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _, run_dir = run_cli(monkeypatch, tmp_path, FakeLoad())
    shutil.copy(  # the naive cell's duplicated effects, as if the idempotent variant had made them
        run_dir / "cells" / "naive--dropped" / "effects.json", run_dir / "cells" / "idempotent--dropped"
    )
    assert main(["report", str(run_dir)]) == 1
    assert rebuild_result(run_dir).verdict.cell("idempotent", "dropped").ops_with_duplicates == 1


@pytest.mark.parametrize("folder", ["missing", "empty", "file"])
def test_harness_report_refuses_a_folder_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], folder: str
) -> None:
    path = tmp_path / folder
    if folder == "empty":
        path.mkdir()
    elif folder == "file":
        path.write_text("not a run")
    with pytest.raises(NotARunFolderError):
        rebuild_result(path)
    assert main(["report", str(path)]) == 2
    assert capsys.readouterr().err.startswith("error: ")
