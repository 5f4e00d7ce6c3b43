"""A bad watch file or option: one line naming the field, exit 2, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main

GOOD_LEDGER = """
  - name: payments
    source: sql
    sqlite: payments.db
    query: "SELECT reference, id, created_at FROM charges"
    operation_field: reference
    timestamp_field: created_at
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("interval_s: 0\nledgers:" + GOOD_LEDGER, "interval_s: Input should be greater than or equal to 0.1"),
        ("windows: [5m, soon]\nledgers:" + GOOD_LEDGER, "windows: expected a duration"),
        ("windows: [5m, 300s]\nledgers:" + GOOD_LEDGER, "windows: windows must not repeat"),
        ("worst: 1000\nledgers:" + GOOD_LEDGER, "worst: Input should be less than or equal to 100"),
        ("intervall_s: 5\nledgers:" + GOOD_LEDGER, "intervall_s: unknown field"),
        ("interval_s: 5\n", "ledgers: Field required"),
        (
            "ledgers:" + GOOD_LEDGER.replace("    query:", "    #"),
            "ledgers.0: query: required when source is sql",
        ),
        (
            "ledgers:" + GOOD_LEDGER.replace("timestamp_field", "time_field"),
            "ledgers.0.timestamp_field: Field required",
        ),
        ("ledgers:" + GOOD_LEDGER + GOOD_LEDGER, "ledgers: ledger names must not repeat"),
        (
            "ledgers:\n  - {name: a, source: http, url: 'http://10.1.2.3/ledger', operation_field: r, "
            "timestamp_field: t}\n",
            "ledgers.0.url: not on this machine",
        ),
        (
            "ledgers:" + GOOD_LEDGER + "    replays: {log: app.log}\n",
            "ledgers.0.replays: pattern: required with log",
        ),
        (
            "ledgers:" + GOOD_LEDGER + "    replays: {log: app.log, pattern: '(unclosed'}\n",
            "ledgers.0.replays.pattern: not a regular expression",
        ),
        ("- just a list\n", "(top level): expected a mapping of fields"),
    ],
)
def test_a_bad_watch_file_is_one_line_naming_the_field_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    config = tmp_path / "watch.yaml"
    config.write_text(text)
    out = tmp_path / "out"

    status = main(["watch", str(config), "--out", str(out), "--once"])

    error = capsys.readouterr().err.strip()
    assert status == 2
    assert error.count("\n") == 0, error
    assert f"{config}: {expected}" in error
    assert not out.exists()  # nothing started, nothing written


@pytest.mark.parametrize(
    "options", [["--polls", "0"], ["--duration", "-1"], ["--polls", "2", "--once"], ["--metrics-port", "0"]]
)
def test_bad_options_exit_2_naming_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    config = tmp_path / "watch.yaml"
    config.write_text("ledgers:" + GOOD_LEDGER)
    with pytest.raises(SystemExit) as exit_:
        main(["watch", str(config), *options])
    assert exit_.value.code == 2
    assert options[0] in capsys.readouterr().err


def test_a_taken_metrics_port_is_refused_before_any_poll(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    config = tmp_path / "watch.yaml"
    config.write_text("ledgers:" + GOOD_LEDGER)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(
            ["watch", str(config), "--out", str(tmp_path / "out"), "--once", "--metrics-port", str(port)]
        )
    assert status == 2
    assert f"--metrics-port 127.0.0.1:{port} is already in use" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
