"""``harness run`` on a Run built from in-memory fakes: exit statuses, what it prints, what it writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from run_fakes import SCENARIO, FakeLoad, FakeProxyClient, FakeRuntime, fake_effects

import harness.run
from harness.cli import main
from harness.listeners.markdown import MarkdownSummary
from harness.result import RunResult

GATE_FAILS = SCENARIO.replace("naive: {min_duplicate_rate: 0.01}", "naive: {max_duplicate_rate: 0}")


class FakedRun(harness.run.Run):
    """The CLI's Run with every seam faked."""

    def __init__(self, **kwargs: Any) -> None:
        fakes = {"runtime": FakeRuntime(), "proxy_client": FakeProxyClient(), "load_driver": FakeLoad()}
        super().__init__(**kwargs, **fakes, effects_probe=fake_effects)


@pytest.fixture(autouse=True)
def faked_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(harness.run, "Run", FakedRun)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "step.md"))


def scenario_file(tmp_path: Path, text: str = SCENARIO, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_run_prints_its_summary_and_writes_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario_file(tmp_path)
    assert main(["run", str(path), "--out", str(tmp_path / "reports"), "--quiet"]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"fake-payments: {path}\n")
    assert shown.index("Gates: PASS") < shown.index("Reports:")
    latest = tmp_path / "reports" / "latest"
    assert sorted(p.name for p in latest.iterdir()) == [
        "cells",
        "index.html",
        "junit.xml",
        "run-record.json",
        "run.json",
        "scenario.yaml",
        "summary.md",
    ]
    assert (tmp_path / "step.md").read_text() == (latest / "summary.md").read_text()


def test_a_failed_gate_exits_1(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, GATE_FAILS)
    assert main(["run", str(path), "--out", str(tmp_path / "reports"), "--quiet"]) == 1


def test_a_failed_listener_exits_2_and_the_result_is_still_shown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(self: MarkdownSummary, *, result: RunResult) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(MarkdownSummary, "run_finished", disk_full)
    path = scenario_file(tmp_path)
    assert main(["run", str(path), "--out", str(tmp_path / "reports"), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "Gates: PASS" in captured.out
    err = " ".join(captured.err.split())
    assert "a listener failed: MarkdownSummary.disk_full on run_finished: OSError: disk full" in err
    assert (
        "a listener failed: StepSummary.run_finished on run_finished: FileNotFoundError" in err
    )  # no summary.md
    assert (tmp_path / "reports" / "latest" / "run.json").exists()


def test_a_catalogue_writes_one_combined_summary_and_exits_with_the_worst_status(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario_file(tmp_path, SCENARIO, "passes.yaml")
    scenario_file(tmp_path, GATE_FAILS.replace("fake-payments", "fake-fails"), "fails.yaml")
    catalogue = scenario_file(tmp_path, "name: both\nscenarios: [passes.yaml, fails.yaml]\n", "all.yaml")
    out = tmp_path / "reports"
    assert main(["run", str(catalogue), "--out", str(out), "--quiet"]) == 1
    combined = (out / "both-summary.md").read_text()
    assert "| fake-payments | naive |" in combined and "| fake-fails | naive |" in combined
    assert (tmp_path / "step.md").read_text() == combined
    shown = capsys.readouterr().out
    assert "✔ PASS fake-payments" in shown and "✘ FAIL fake-fails" in shown
    assert shown.rstrip().endswith(f"summary: {out / 'both-summary.md'}")


def test_junit_writes_the_gates_to_one_fixed_file_too(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, GATE_FAILS)
    fixed = tmp_path / "ci" / "junit.xml"
    out = tmp_path / "reports"

    assert main(["run", str(path), "--out", str(out), "--quiet", "--junit", str(fixed)]) == 1

    assert fixed.read_text() == (out / "latest" / "junit.xml").read_text()
    assert 'failures="1"' in fixed.read_text()


def test_junit_is_refused_for_a_catalogue(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario_file(tmp_path, SCENARIO, "one.yaml")
    catalogue = scenario_file(tmp_path, "name: both\nscenarios: [one.yaml]\n", "all.yaml")
    out = tmp_path / "reports"

    assert main(["run", str(catalogue), "--out", str(out), "--junit", str(tmp_path / "j.xml")]) == 2

    assert "--junit names one file for one scenario's run" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_a_bundled_scenario_is_found_by_its_relative_path_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # a project without scenarios/ of its own
    assert main(["validate", "scenarios/payments.yaml"]) == 0
    assert "payments: 2 variants × 3 faults" in " ".join(capsys.readouterr().out.split())

    own = tmp_path / "scenarios" / "payments.yaml"  # the project's own file of that name wins
    own.parent.mkdir()
    own.write_text(SCENARIO)
    assert main(["validate", "scenarios/payments.yaml"]) == 0
    assert "fake-payments: 2 variants × 1 faults" in " ".join(capsys.readouterr().out.split())
