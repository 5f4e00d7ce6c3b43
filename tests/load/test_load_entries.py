"""In Locust's statistics, retries and gave-ups are entries of their own beside the HTTP requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from factories import load_cell

from harness.load.config import LOAD_CONFIG_ENV
from harness.paths import REPO_ROOT
from harness.serve import LOCUSTFILE

if TYPE_CHECKING:
    from conftest import Action, Serving

ALWAYS_FAILING = ("000000", "000001")  # 503 on all three attempts: two retries, then the client gives up
FAILING_ONCE = ("000002", "000003")  # reset once: one retry, then acknowledged


def decide(reference: str, attempt: int) -> Action:
    if reference.endswith(ALWAYS_FAILING):
        return "error"
    if reference.endswith(FAILING_ONCE) and attempt == 1:
        return "reset"
    return "ok"


def test_retries_and_gave_ups_are_listed_apart_from_the_requests(tmp_path: Path, serving: Serving) -> None:
    config = load_cell("http://127.0.0.1:9", tmp_path, "nai-drop-", operations=6, users=3)
    config_path = tmp_path / "load.json"
    config_path.write_text(config.model_dump_json())
    with serving(decide) as server:
        done = subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--json", "-L", "WARNING"]
            + ["--exit-code-on-error", "0"]  # failures are what this load is made of
            + ["-u", "3", "-r", "50", "--host", server.url, "-t", "60s"],
            cwd=tmp_path,
            env={**os.environ, LOAD_CONFIG_ENV: str(config_path), "PYTHONPATH": str(REPO_ROOT)},
            capture_output=True,
            text=True,
            timeout=45,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    entries = {(entry["method"], entry["name"]): entry for entry in json.loads(done.stdout)}
    counts = {key: entry["num_requests"] for key, entry in entries.items()}
    assert counts == {
        ("POST", "charge"): 3 * 2 + 2 * 2 + 2,
        ("RETRY", "charge (retry 1)"): 4,
        ("RETRY", "charge (retry 2)"): 2,
        ("GAVE UP", "charge"): 2,
    }
    assert entries[("POST", "charge")]["num_failures"] == 3 * 2 + 2
    assert all(
        entries[key]["num_failures"] == 0 for key in counts if key[0] != "POST"
    )  # markers, not failures
