"""``make demo-watch`` end to end, smaller: the watcher's lines show naive's charges made twice and
idempotent's never, its snapshots say the same, and nothing the demo started outlives it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.waiting import wait_until

DEMO = Path(__file__).resolve().parents[2] / "examples" / "monitoring" / "demo_watch.py"


TAG = "HARNESS_DEMO_WATCH_TEST"


def _processes_tagged(tag: str) -> list[int]:
    """Pids whose environment carries ``TAG=tag``: every process the demo started inherits it."""
    marker = f"{TAG}={tag}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def test_demo_watch_shows_naive_duplicates_and_idempotent_none(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, str(DEMO), "--out", str(out), "--operations", "150", "--interval", "0.5"],
        env={**os.environ, TAG: str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    naive = json.loads((out / "naive" / "watch" / "watch.json").read_text())["ledgers"][0]["windows"][-1]
    idempotent = json.loads((out / "idempotent" / "watch" / "watch.json").read_text())["ledgers"][0][
        "windows"
    ][-1]
    assert naive["operations"] == idempotent["operations"] == 150
    assert naive["duplicated_operations"] > 0
    assert idempotent["duplicated_operations"] == 0
    lines = done.stdout.splitlines()
    assert any(" payments-naive  1m no operations" in line for line in lines)  # the rise starts from none
    assert any(" payments-idempotent  1m 0/150 dup 0.0% " in line for line in lines)
    wait_until(lambda: not _processes_tagged(str(tmp_path)), "every process of the demo gone")
