"""The locustfile runs the same user class under the locust command and ends by itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from factories import LOCAL_ANSWER_BOUND_S

from harness.history import OpEnd, OpStart, iter_file
from harness.load.config import LoadCellConfig
from harness.load.operations import idempotency_key
from harness.paths import REPO_ROOT
from harness.scenario import LoadSpec, RetryPolicySpec

if TYPE_CHECKING:
    from conftest import Serving


def test_headless_locust_runs_the_cells_operations_and_exits(tmp_path: Path, serving: Serving) -> None:
    cell_history = tmp_path / "history.jsonl"
    config = LoadCellConfig(
        base_url="http://127.0.0.1:9",  # the cell's old proxy; --host points at the live server
        load=LoadSpec(
            operations=6,
            users=2,
            spawn_rate=50,
            max_duration_s=20,
            retry=RetryPolicySpec(max_attempts=2, timeout_s=LOCAL_ANSWER_BOUND_S),
            amount_min=1,
            amount_max=10,
        ),
        variant="naive",
        fault="none",
        seed=11,
        history_path=str(cell_history),
        op_id_prefix="nai-none-",
    )
    config_path = tmp_path / "load.json"
    config_path.write_text(config.model_dump_json())
    env = {**os.environ, "HARNESS_LOAD_CONFIG": str(config_path)}
    with serving(lambda reference, attempt: "ok") as server:
        done = subprocess.run(  # ends by itself, long before locust's own -t 60s limit would
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(REPO_ROOT / "harness/load/locustfile.py"),
                "--headless",
            ]
            + ["-u", "2", "-r", "50", "--host", server.url, "-t", "60s", "--only-summary", "-L", "WARNING"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=45,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    assert not cell_history.exists()  # the cell's evidence is never touched
    events = list(iter_file(tmp_path / "locust-ui-history.jsonl"))
    op_ids = [f"nai-none-ui1-{n:06d}" for n in range(6)]
    assert sorted(e.op_id for e in events if isinstance(e, OpStart)) == op_ids
    ends = [e for e in events if isinstance(e, OpEnd)]
    assert sorted((e.op_id, e.outcome, e.attempts) for e in ends) == [(o, "acknowledged", 1) for o in op_ids]
    assert sorted(r.key or "" for r in server.received) == sorted(idempotency_key(11, o) for o in op_ids)
