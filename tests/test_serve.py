"""``harness serve``: bad input is refused in one line, exit 2, before any process starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_input import refused

from harness.paths import REPO_ROOT
from harness.serve import locust_command

SMALL = str(REPO_ROOT / "tests" / "e2e" / "small_payments.yaml")
CATALOGUE = str(REPO_ROOT / "scenarios" / "all.yaml")


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["--variant", "bogus", "--fault", "crash"],
            "--variant bogus: no such variant in scenario 'payments-small' (variants: naive, idempotent)",
        ),
        (
            ["--variant", "naive", "--fault", "nope"],
            "--fault nope: no such fault in scenario 'payments-small' (faults: dropped-responses, latency, "
            "crash)",
        ),
        (
            ["--fault", "crash"],
            "--variant: scenario 'payments-small' has 2 variants (naive, idempotent): name one",
        ),
        (["--variant", "naive"], "--fault: scenario 'payments-small' has 3 faults"),
        (
            ["--variant", "naive", "--fault", "crash", "--operations", "0"],
            "--operations: expected 1..1000000",
        ),
    ],
)
def test_a_bad_cell_is_refused_naming_the_option_before_anything_starts(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "serve"
    assert needle in refused(["serve", SMALL, "--out", str(out), *argv], capsys)
    assert not out.exists()  # no session folder: nothing was started


def test_a_bad_scenario_or_a_catalogue_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\ntarget: {name: payments}\nload: {users: 0}\nfaults: {none: {}}\n")
    line = refused(["serve", str(broken), "--out", str(tmp_path / "serve")], capsys)
    assert line.startswith(f"error: {broken}: load.users: ")
    assert "give it that scenario's file" in refused(["serve", CATALOGUE], capsys)
    assert not (tmp_path / "serve").exists()


def test_locusts_web_ui_is_bound_to_loopback_with_the_cells_defaults() -> None:
    command = locust_command("http://127.0.0.1:4000", 6, 50.0, 8089)
    options = dict(zip(command[3::2], command[4::2], strict=True))  # after `python -m locust`
    assert options == {
        "-f": str(REPO_ROOT / "harness" / "load" / "locustfile.py"),
        "--host": "http://127.0.0.1:4000",
        "--users": "6",
        "--spawn-rate": "50",
        "--web-host": "127.0.0.1",
        "--web-port": "8089",
    }
