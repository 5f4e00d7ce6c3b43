"""The built wheel, installed (not editable) into a fresh venv outside the checkout, validates, lists and
runs the bundled scenarios from any folder: the reference targets and scenarios ship with it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from installing import InstalledHarness
from installing import run_outside as _run

RUN_TIMEOUT_S = 240


@pytest.fixture
def installed(installed_harness: InstalledHarness) -> Path:
    return installed_harness.bin_dir


def bundled_scenarios(bin_dir: Path, cwd: Path) -> Path:
    where = "from harness.paths import SCENARIOS_DIR; print(SCENARIOS_DIR)"
    shown = _run([str(bin_dir / "python"), "-c", where], cwd)
    folder = Path(shown.stdout.strip())
    assert folder.is_relative_to(bin_dir.parent) and (folder / "payments.yaml").is_file()
    return folder


def test_validate_and_list_work_from_any_folder(installed: Path, tmp_path: Path) -> None:
    scenarios = bundled_scenarios(installed, tmp_path)
    (tmp_path / "scenarios").mkdir()
    shutil.copy(scenarios / "payments.yaml", tmp_path / "scenarios" / "payments.yaml")  # as in a checkout
    for path in (str(scenarios / "payments.yaml"), "scenarios/payments.yaml"):
        validated = _run([str(installed / "harness"), "validate", path], tmp_path)
        assert validated.returncode == 0, validated.stdout + validated.stderr
        assert "payments: 2 variants × 3 faults" in " ".join(validated.stdout.split())
    listed = _run([str(installed / "harness"), "list"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    for name in ("payments.yaml", "orders.yaml", "all.yaml"):
        assert name in listed.stdout
    assert "invalid" not in listed.stdout


def test_a_small_run_of_a_bundled_scenario(installed: Path, tmp_path: Path) -> None:
    scenarios = bundled_scenarios(installed, tmp_path)
    command = [str(installed / "harness"), "run", str(scenarios / "payments.yaml"), "--quiet",
               "--operations", "4", "--fault", "dropped-responses", "--out", "reports"]  # fmt: skip
    ran = _run(command, tmp_path, RUN_TIMEOUT_S)
    assert ran.returncode in (0, 1), ran.stdout[-3000:] + ran.stderr[-3000:]  # 1: a gate failed (naive)
    report = json.loads((tmp_path / "reports" / "latest" / "run.json").read_text())
    assert report["scenario_name"] == "payments" and report["runtime"] == "process"
    cells = report["verdict"]["cells"]
    assert [(cell["variant"], cell["operations"], cell["error"]) for cell in cells] == [
        ("naive", 4, None),
        ("idempotent", 4, None),
    ]
    assert "Traceback" not in ran.stderr
