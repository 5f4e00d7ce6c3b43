"""The checker benchmark runs end to end on small cells and writes a complete result."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import checker as bench
from benchmarks.checker_history import HistoryShape, write_cell

TIMES = ("read_s", "check_s", "total_s", "cpu_s", "peak_rss_mib")


def test_small_bench_writes_json_and_markdown_with_the_baseline_ratio(tmp_path: Path) -> None:
    out = tmp_path / "bench" / "checker.json"
    assert (
        bench.main(
            ["--operations", "3000", "--baseline-operations", "1000", "--rounds", "1", "--out", str(out)]
        )
        == 0
    )

    result = json.loads(out.read_text())
    streamed_big, streamed_small, pydantic_small = result["rows"]
    assert [row["path"] for row in result["rows"]] == ["streamed", "streamed", "pydantic"]
    assert [row["operations"] for row in result["rows"]] == [3000, 1000, 1000]
    for row in result["rows"]:
        assert all(row[name] > 0 for name in TIMES), row
        assert row["total_s"] >= row["read_s"]
    assert streamed_small["verdict"] == pydantic_small["verdict"]
    assert streamed_big["verdict"]["validity"] == "invalid"  # a tenth of the operations took effect twice
    assert result["baseline_ratio"]["operations"] == 1000
    assert "| streamed | 3,000 |" in out.with_suffix(".md").read_text()


def test_the_generated_cell_has_its_share_of_retries_and_duplicates(tmp_path: Path) -> None:
    written = write_cell(tmp_path, HistoryShape(operations=2000, seed=3))

    measured = bench.measure(
        "streamed", tmp_path / "effects.json", [tmp_path / "history.jsonl", tmp_path / "faults.jsonl"]
    )

    assert measured.operations == 2000
    assert measured.events == written.events
    assert 0.15 < int(measured.verdict["retries"]) / 2000 < 0.25  # type: ignore[call-overload]
    assert 0.07 < float(measured.verdict["ops_with_duplicates"]) / 2000 < 0.13  # type: ignore[arg-type]
    assert len(bench.read_effects(tmp_path / "effects.json")) == 2000 + int(
        measured.verdict["ops_with_duplicates"]
    )  # type: ignore[call-overload]
