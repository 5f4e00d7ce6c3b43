"""Bad command-line input exits 2 with one line saying why, before anything starts; never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import EXIT_COULD_NOT_RUN
from harness.paths import REPO_ROOT
from harness.ports import LOOPBACK

PAYMENTS = str(REPO_ROOT / "scenarios" / "payments.yaml")
METHODS = ["conform", "http://127.0.0.1:1", "--methods", "--resource", "/orders/{id}"]


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """The error ``harness argv`` prints: exit status 2, whether argparse or the command refused it."""
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse refuses a bad option this way, with its usage line
        status = int(exit_.code or 0)
    assert status == EXIT_COULD_NOT_RUN
    stderr = capsys.readouterr().err
    assert "Traceback" not in stderr
    return stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["run", PAYMENTS, "--operations", "-1"], "--operations: expected 1..1000000, got -1"),
        (["run", PAYMENTS, "--operations", "0"], "--operations: expected 1..1000000, got 0"),
        (["run", PAYMENTS, "--operations", "10000000000"], "--operations: expected 1..1000000"),
        (["run", PAYMENTS, "--operations", "many"], "expected a whole number, got 'many'"),
        (["run", PAYMENTS, "--workers", "-1"], "--workers: expected 0..256"),
        (["run", PAYMENTS, "--parallel", "0"], "--parallel: expected 1..16, got 0"),
        (["run", PAYMENTS, "--parallel", "17"], "--parallel: expected 1..16, got 17"),
        (["run", PAYMENTS, "--workers", "100000"], "--workers: expected 0..256"),
        (["run", PAYMENTS, "--master-port", "70000"], "--master-port: expected 1..65535"),
        (["run", PAYMENTS, "--metrics-port", "0"], "--metrics-port: expected 1..65535, got 0"),
        (["run", PAYMENTS, "--metrics-port", "65536"], "--metrics-port: expected 1..65535, got 65536"),
        (["run", PAYMENTS, "--metrics-port", "x"], "--metrics-port: expected a whole number, got 'x'"),
        (["run", PAYMENTS, "--worker", "--metrics-port", "9"], "--metrics-port serves a run's metrics"),
        (["proxy", "--port", "70000"], "--port: expected 0..65535, got 70000"),
        (["proxy", "--port", "-1"], "--port: expected 0..65535, got -1"),
        (["conform", "http://127.0.0.1:1/x", "--timeout", "nan"], "--timeout: expected a finite number"),
        (["conform", "http://127.0.0.1:1/x", "--concurrency", "0"], "--concurrency: expected 1..64"),
        (["conform", "http://127.0.0.1:1", "--resource", "/orders/{id}"], "--resource: only with --methods"),
        (["conform", "http://127.0.0.1:1", "--methods"], "--methods needs --resource PATH"),
        ([*METHODS, "--method", "PUT"], "--method: not used with --methods"),
        ([*METHODS, "--put", "/orders/{id}/address"], "--put /orders/{id}/address needs --put-body"),
        ([*METHODS, "--unsupported", "GET"], "--unsupported GET: every check reads"),
        ([*METHODS, "--unsupported", "POST"], "--unsupported POST: expected one of HEAD, PUT, PATCH, DELETE"),
        ([*METHODS, "--unsupported", "PATCH", "--patch-body", "{}"], "--patch-body: PATCH is declared"),
        ([*METHODS, "--patch-body", "{bad"], "--patch-body: not valid JSON"),
        ([*METHODS, "--create-body", "@/nonexistent.json"], "--create-body: cannot read /nonexistent.json"),
        ([*METHODS[:-1], "/orders"], "--resource: expected a path holding {id}"),
        ([*METHODS[:-1], "/a/{id}/b"], "--create: needed"),
        (["list", "/nonexistent"], "/nonexistent: no such folder"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert needle in refused(argv, capsys)


def test_an_out_below_a_file_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    line = refused(["run", PAYMENTS, "--out", str(blocker / "reports")], capsys)
    assert f"--out: {blocker / 'reports'}: {blocker} is not a folder" in line
    assert not (blocker.parent / "reports").exists()


def test_a_metrics_port_in_use_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind((LOOPBACK, 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["run", PAYMENTS, "--out", str(tmp_path / "reports"), "--metrics-port", str(port)]
        line = refused(argv, capsys)
    assert f"--metrics-port {port}: cannot serve on {LOOPBACK}:{port}" in line
    assert not (tmp_path / "reports").exists()  # no run folder: nothing started


def test_an_out_without_write_permission_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root may write anywhere, so the permission is denied through os.access as a user would see it."""
    monkeypatch.setattr("harness.arguments.os.access", lambda path, mode: False)
    line = refused(["run", PAYMENTS, "--out", str(tmp_path / "reports")], capsys)
    assert f"cannot write in {tmp_path}" in line


@pytest.mark.parametrize("data", [bytes(range(256)) * 8, b"\xff\xfe{\x00}\x00", ("[" * 20_000).encode()])
def test_binary_or_absurd_files_given_to_gate_or_proxy_config_are_one_line(
    tmp_path: Path, data: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(data)
    assert str(path) in refused(["gate", str(path), "--baseline", str(path)], capsys)
    assert str(path) in refused(["proxy", "--port", "0", "--config", str(path)], capsys)


def test_an_error_holding_rich_markup_is_printed_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A value such as ``[/]`` in a file is shown, not taken for markup (which would raise instead)."""
    path = tmp_path / "s.yaml"
    path.write_text("name: '[/]'\ntarget: {name: payments}\nfaults: {none: {}}\n")
    assert "'[/]'" in refused(["validate", str(path)], capsys)
