"""The public surface of harness.report and the one call that writes every file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import harness.report
from harness.report import write_all
from harness.result import RunResult


def test_public_api_is_pinned() -> None:
    assert sorted(harness.report.__all__) == ["print_summary", "read_run_json", "report_paths", "write_all"]


def test_write_all_writes_the_three_reports_into_out_dir(run_result: RunResult) -> None:
    paths = write_all(run_result)

    assert paths == {
        "json": run_result.out_dir / "run.json",
        "html": run_result.out_dir / "index.html",
        "junit": run_result.out_dir / "junit.xml",
    }
    assert sorted(p.name for p in run_result.out_dir.iterdir()) == ["index.html", "junit.xml", "run.json"]
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["run_id"] == "run-20250615-150640-ab12"
    assert ET.parse(paths["junit"]).getroot().get("tests") == "6"
    assert paths["html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
