"""An interrupted run (Ctrl-C or SIGTERM) ends every process it started and says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from waiting import wait_until

from harness.paths import REPO_ROOT

SCENARIO = Path(__file__).with_name("small_payments.yaml")


def processes_mentioning(text: str) -> dict[int, str]:
    """Live processes whose command line contains ``text`` (our run folder): pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command and int(entry.name) != os.getpid():
            found[int(entry.name)] = command
    return found


def load_running(out: Path) -> bool:
    """Whether the run is in a cell's load: besides the harness, a target and a driver are up."""
    commands = processes_mentioning(str(out)).values()
    return len(commands) >= 3 and any("harness.load.driver" in command for command in commands)


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
        wait_until(lambda: load_running(out), "a load driver of the run", timeout_s=60)
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
    wait_until(lambda: processes_mentioning(str(out)) == {}, "every process of the run to be gone")
    assert list((out / ".pids").glob("*.json")) == []
