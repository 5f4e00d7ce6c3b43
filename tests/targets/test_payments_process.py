"""The payments script as the harness runs it: a real process, a crash after commit, a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from waiting import WAIT_S

from harness.runtime.process import target_command, target_env

APP = target_command("payments")
CHARGE = {"amount": 700, "currency": "usd", "customer": "cus_9", "reference": "op-crash"}
CRASH_EXIT_STATUS = 17
STARTUP_TIMEOUT_S = WAIT_S


class Target:
    def __init__(self, process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    def effects(self) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.base_url}/effects", timeout=5)
        assert response.status_code == 200
        effects: list[dict[str, Any]] = response.json()
        return effects

    def post_charge(self, key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key} if key else {}
        return httpx.post(f"{self.base_url}/charges", json=CHARGE, headers=headers, timeout=5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_target(tmp_path: Path, variant: str, db: Path, *, failpoints: str = "",
                   incarnation: int = 0) -> Iterator[Target]:
    """Start app.py from a foreign cwd, wait for /health, and always kill the process by its pid."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env.update(HARNESS_FAILPOINTS=failpoints, HARNESS_SEED="5", HARNESS_INCARNATION=str(incarnation))
    log = tmp_path / f"{variant}-{incarnation}.log"
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            [*APP, "--host", "127.0.0.1", "--port", str(port), "--variant", variant,
             "--db", str(db)],
            cwd=tmp_path, env=target_env(env), stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        target = Target(process, f"http://127.0.0.1:{port}", log)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            assert process.poll() is None, f"target exited early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"target not healthy in time:\n{log.read_text()}"
            try:
                if httpx.get(f"{target.base_url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.02)
        yield target
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _crash_on_first_charge(tmp_path: Path, variant: str, db: Path, key: str | None) -> None:
    with running_target(tmp_path, variant, db, failpoints="after_commit_before_response=1.0") as target:
        with pytest.raises(httpx.TransportError):
            target.post_charge(key)
        assert target.process.wait(timeout=10) == CRASH_EXIT_STATUS
        assert "failpoint after_commit_before_response fired on hit 0" in target.log.read_text()


def test_idempotent_retry_after_a_crash_after_commit_replays_the_charge(tmp_path: Path) -> None:
    db = tmp_path / "payments.db"
    _crash_on_first_charge(tmp_path, "idempotent", db, key="key-1")

    with running_target(tmp_path, "idempotent", db, incarnation=1) as target:
        effects_after_restart = target.effects()
        retry = target.post_charge("key-1")
        effects_after_retry = target.effects()

    assert [(e["reference"], e["amount"]) for e in effects_after_restart] == [("op-crash", 700)]
    assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (201, "true")
    assert retry.json()["id"] == effects_after_restart[0]["id"]
    assert effects_after_retry == effects_after_restart


def test_naive_retry_after_a_crash_after_commit_charges_twice_and_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "payments.db"
    _crash_on_first_charge(tmp_path, "naive", db, key=None)

    with running_target(tmp_path, "naive", db, incarnation=1) as target:
        effects_after_restart = target.effects()
        retry = target.post_charge()
        os.kill(target.process.pid, signal.SIGKILL)  # right after the acknowledged commit
        assert target.process.wait(timeout=10) == -signal.SIGKILL

    with running_target(tmp_path, "naive", db, incarnation=2) as target:
        effects_after_sigkill = target.effects()

    assert [e["reference"] for e in effects_after_restart] == ["op-crash"]
    assert retry.status_code == 201
    assert [e["id"] for e in effects_after_sigkill] == [effects_after_restart[0]["id"], retry.json()["id"]]


def test_crash_before_commit_leaves_no_charge(tmp_path: Path) -> None:
    db = tmp_path / "payments.db"
    with running_target(tmp_path, "idempotent", db, failpoints="before_commit=1.0") as target:
        with pytest.raises(httpx.TransportError):
            target.post_charge("key-1")
        assert target.process.wait(timeout=10) == CRASH_EXIT_STATUS

    with running_target(tmp_path, "idempotent", db, incarnation=1) as target:
        assert target.effects() == []
        assert "Idempotent-Replayed" not in target.post_charge("key-1").headers
        assert len(target.effects()) == 1


def test_bad_configuration_exits_with_status_2(tmp_path: Path) -> None:
    env = {**os.environ, "HARNESS_FAILPOINTS": "no_such_point=1"}
    result = subprocess.run(
        [*APP, "--port", "1", "--variant", "naive", "--db", str(tmp_path / "p.db")],
        cwd=tmp_path, env=target_env(env), capture_output=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert b"failpoint 'no_such_point' is unknown" in result.stderr
