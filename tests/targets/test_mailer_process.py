"""The mailer as the harness runs it: a real process, real SMTP to the harness's sink, crashes, restarts."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from waiting import WAIT_S, wait_until

from harness.ports import free_port
from harness.runtime.process import ProcessRuntime, ProcessTarget, target_command, target_env
from harness.services import ServiceSet

APP = target_command("mailer")
EMAIL = {"to": "ada@example.org", "subject": "Your receipt", "reference": "op-crash"}
CRASH_EXIT_STATUS = 17


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceSet]:
    """One SMTP sink for the module; each test reads its own namespace (cell id)."""
    with ServiceSet.start(("smtp",), tmp_path_factory.mktemp("sink")) as services:
        yield services


class Cell:
    """One test's mailer processes (started one after another on the same data) and its mail."""

    def __init__(self, sink: ServiceSet, folder: Path, cell_id: str, variant: str) -> None:
        self.sink = sink
        self.folder = folder
        self.cell_id = cell_id
        self.variant = variant
        self.env = sink.cell_env(cell_id)
        self.runtime = ProcessRuntime(start_timeout_s=WAIT_S)

    def start(self, failpoints: str = "", **env: str) -> ProcessTarget:
        """A new process on the cell's data; a fresh start, so earlier failpoints do not carry over."""
        return self.runtime.start("mailer", self.variant, self.folder / "data", self.folder / "target.log",
                                  {**self.env, "HARNESS_FAILPOINTS": failpoints, "HARNESS_SEED": "3", **env})

    def mail(self) -> list[dict[str, Any]]:
        response = httpx.get(self.sink.smtp_effects_url(self.cell_id), timeout=5)
        assert response.status_code == 200
        mail: list[dict[str, Any]] = response.json()
        return mail

    def log(self) -> str:
        return (self.folder / "target.log").read_text()


def _post(target: ProcessTarget, key: str = "key-1") -> httpx.Response:
    return httpx.post(f"{target.endpoint.base_url}/emails", json=EMAIL, headers={"Idempotency-Key": key},
                      timeout=5)


def _stats(target: ProcessTarget) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(f"{target.endpoint.base_url}/stats", timeout=5).json()
    return stats


@pytest.mark.parametrize(("variant", "sends"), [
    ("naive", 2), ("idempotent", 1), ("broken-record-after-send", 2),
])
def test_crash_after_send_before_ack_then_restart(sink: ServiceSet, tmp_path: Path, variant: str,
                                                  sends: int) -> None:
    cell = Cell(sink, tmp_path, f"mailer-crash-{variant}", variant)
    target = cell.start(failpoints="after_send_before_ack=1.0")
    try:
        accepted = _post(target)
        wait_until(lambda: target.exit_code() is not None, "the failpoint crash")
        assert target.exit_code() == CRASH_EXIT_STATUS
    finally:
        target.stop()
    assert "failpoint after_send_before_ack fired on hit 0" in cell.log()
    assert [m["reference"] for m in cell.mail()] == ["op-crash"]

    restarted = cell.start()
    try:
        wait_until(lambda: _stats(restarted)["pending"] == 0, "the queue to drain")
        stats = _stats(restarted)
    finally:
        restarted.stop()

    mail = cell.mail()
    assert accepted.status_code == 202
    assert stats == {"pending": 0, "done": 1}
    assert [m["reference"] for m in mail] == ["op-crash"] * sends
    assert {m["id"] for m in mail} == {f"<{accepted.json()['id']}@mailer.harness.invalid>"}


def test_an_accepted_job_survives_sigkill_while_smtp_is_down(sink: ServiceSet, tmp_path: Path) -> None:
    cell = Cell(sink, tmp_path, "mailer-sigkill", "naive")
    target = cell.start(HARNESS_SMTP_PORT=str(free_port()))  # nothing listens there
    try:
        accepted = _post(target)
        stats_while_down = _stats(target)
        # kill only once the job has really met the SMTP outage, or the test would prove nothing
        wait_until(lambda: "step failed" in cell.log(), "a failed send to the SMTP port nobody listens on")
        target.kill()
    finally:
        target.stop()
    restarted = cell.start()
    try:
        wait_until(lambda: _stats(restarted)["pending"] == 0, "the queue to drain")
    finally:
        restarted.stop()
    assert (accepted.status_code, stats_while_down) == (202, {"pending": 1, "done": 0})
    assert [m["reference"] for m in cell.mail()] == ["op-crash"]
    assert "step failed" in cell.log()


def test_a_missing_smtp_port_exits_with_status_2(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    result = subprocess.run(
        [*APP, "--port", "1", "--variant", "naive", "--db", str(tmp_path / "m.db")],
        cwd=tmp_path, env=target_env(env), capture_output=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert b"HARNESS_SMTP_PORT is not set" in result.stderr
