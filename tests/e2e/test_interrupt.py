"""An interrupted run (Ctrl-C or SIGTERM) ends every process it started and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT

SCENARIO = Path(__file__).with_name("small_payments.yaml")


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text`` (our run folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command and int(entry.name) != os.getpid():
            found.append(int(entry.name))
    return found


def wait_for_load(out: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        histories = list(out.glob("*/cells/*/history.jsonl"))
        if histories and histories[0].stat().st_size > 0:
            return
        time.sleep(0.1)
    raise AssertionError("the run never started its load")


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_leaves_nothing_behind(tmp_path: Path, stop_signal: signal.Signals) -> None:
    out = tmp_path / "reports"
    run = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", str(SCENARIO), "--out", str(out), "--quiet"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_load(out)
        assert len(processes_mentioning(str(out))) >= 3, "expected harness, target and load driver"
        run.send_signal(stop_signal)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:  # the test failed early: still let the harness clean up after itself
            run.send_signal(signal.SIGINT)
            try:
                run.wait(timeout=60)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()
    assert run.returncode == 2
    assert "interrupted" in err and "Traceback" not in err
    deadline = time.monotonic() + 10
    while processes_mentioning(str(out)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_mentioning(str(out)) == []
    assert list((out / ".pids").rglob("[0-9]*.json")) == []  # no child left recorded, any owner
