"""The proxy benchmark's machinery runs end to end in its tiny mode and writes a complete result."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from benchmarks import proxy as bench

RESULT_FIELDS = {"requests_per_s", "p50_ms", "p99_ms", "added_p50_ms", "added_p99_ms", "mb_per_s"}


def test_quick_bench_writes_json_and_markdown_with_positive_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench" / "proxy.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0

    result = json.loads(out.read_text())
    assert result["mode"] == "quick"
    assert datetime.datetime.fromisoformat(result["date"]).tzinfo is not None
    assert result["machine"]["cpu_count"] >= 1
    assert result["machine"]["python"].startswith("3.")
    assert set(result["targets"]) == {"direct", "ours"}
    for name, target in result["targets"].items():
        assert set(target) >= RESULT_FIELDS, name
        for key in ("requests_per_s", "p50_ms", "p99_ms", "mb_per_s"):
            assert target[key] > 0, (name, key)
        assert target["p99_ms"] >= target["p50_ms"], name
    direct, ours = result["targets"]["direct"], result["targets"]["ours"]
    assert direct["added_p50_ms"] == 0.0
    assert direct["added_p99_ms"] == 0.0
    assert ours["added_p50_ms"] == pytest.approx(ours["p50_ms"] - direct["p50_ms"])
    assert ours["added_p99_ms"] == pytest.approx(ours["p99_ms"] - direct["p99_ms"])
    assert result["ratios"] == {}  # no nginx in quick mode, so no ours/nginx ratio

    markdown = out.with_suffix(".md").read_text()
    assert markdown.startswith("# Proxy benchmark\n")
    assert "| direct |" in markdown
    assert "| ours |" in markdown
    assert "proxy bench (quick" in capsys.readouterr().out


def test_latency_and_stream_measure_the_python_upstream() -> None:
    with bench.python_upstream(stream_bytes=300_000) as port:
        sample = bench.measure_latency(port, count=50, warmup=5, time_limit_s=10.0)
        mb_per_s = bench.measure_stream(port, expected_bytes=300_000, time_limit_s=10.0)
    assert len(sample.round_trips_s) == 50
    assert all(rtt > 0 for rtt in sample.round_trips_s)
    assert sample.requests_per_s > 0
    assert mb_per_s > 0


def test_stream_refuses_a_response_of_the_wrong_size() -> None:
    with bench.python_upstream(stream_bytes=1000) as port, pytest.raises(RuntimeError, match="1001 bytes"):
        bench.measure_stream(port, expected_bytes=1001, time_limit_s=10.0)


def test_percentiles_are_nearest_rank() -> None:
    sample = bench.LatencySample(round_trips_s=[i / 1000 for i in range(100, 0, -1)], elapsed_s=1.0)
    assert sample.percentile_ms(0.50) == pytest.approx(50.0)
    assert sample.percentile_ms(0.99) == pytest.approx(99.0)
    assert sample.percentile_ms(1.0) == pytest.approx(100.0)
    assert sample.requests_per_s == 100.0


def test_ratio_is_none_when_the_reference_added_nothing() -> None:
    assert bench._ratio(0.3, 0.1) == pytest.approx(3.0)
    assert bench._ratio(0.3, 0.0) is None
    assert bench._ratio(0.3, -0.01) is None


def test_proxy_configs_point_at_the_given_loopback_ports(tmp_path: Path) -> None:
    stream = bench.nginx_stream_proxy_config(tmp_path, 4001, 4002)
    assert "listen 127.0.0.1:4001;" in stream
    assert "proxy_pass 127.0.0.1:4002;" in stream
    assert "daemon off;" in stream
    haproxy = bench.haproxy_config(4003, 4004)
    assert "bind 127.0.0.1:4003" in haproxy
    assert "server upstream 127.0.0.1:4004" in haproxy
    upstream = bench.nginx_upstream_config(tmp_path, 4005, tmp_path / "big.bin")
    assert "listen 127.0.0.1:4005;" in upstream
    assert f"alias {tmp_path / 'big.bin'};" in upstream
