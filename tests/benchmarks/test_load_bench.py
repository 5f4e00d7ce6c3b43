"""The load benchmark's machinery runs end to end in its tiny mode and writes a complete result."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from benchmarks import load as bench


def test_quick_bench_measures_both_loads_against_the_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench" / "load.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0

    result = json.loads(out.read_text())
    assert result["mode"] == "quick"
    assert set(result["loads"]) == {"retrying", "plain"}
    for name, load in result["loads"].items():
        [measured] = load["rounds"]
        assert measured["requests"] >= bench.BenchSettings.for_mode(True).requests, name
        assert measured["failures"] == 0, (name, measured)
        assert measured["cpu_s"] > 0 and measured["wall_s"] > 0, name
        assert load["attempts_per_cpu_s"] == pytest.approx(measured["requests"] / measured["cpu_s"]), name
    retrying, plain = result["loads"]["retrying"], result["loads"]["plain"]
    assert result["ratio"] == pytest.approx(retrying["attempts_per_cpu_s"] / plain["attempts_per_cpu_s"])

    markdown = out.with_suffix(".md").read_text()
    assert markdown.startswith("# Load generator benchmark\n")
    assert "| retrying |" in markdown and "| plain |" in markdown
    assert "load bench (quick" in capsys.readouterr().out


def test_process_cpu_counts_only_the_named_process() -> None:
    before = bench.process_cpu_s(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:  # burn CPU in this process: its count must grow
        pass
    assert bench.process_cpu_s(os.getpid()) - before >= 0.1


def test_a_done_line_is_read_with_or_without_nested_locust_stats() -> None:
    driver = {"done": True, "locust_stats": {"requests": 10, "failures": 1}}
    plain = {"done": True, "requests": 12, "failures": 0}
    assert bench._round(driver, 2.0, 4.0) == bench.Round(10, 1, 2.0, 4.0)
    assert bench._round(plain, 3.0, 4.0).attempts_per_cpu_s == 4.0
