"""A green verdict must mean the fault hit and nothing was duplicated, for real targets too: a service
answering 500 to everything is inconclusive (exit 1). (A rerun against a store that outlives the run:
test_byo_targets.py.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.paths import REPO_ROOT

SERVICES = Path(__file__).parent / "services"
EXAMPLE = REPO_ROOT / "examples" / "flask-orders"


def test_a_target_answering_500_to_everything_is_inconclusive_and_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "always-500.yaml"
    scenario.write_text(
        f"""
name: always-500
target:
  command: ["{sys.executable}", "{SERVICES / "always_500.py"}", --port, "{{port}}"]
  variants: [idempotent]
load: {{operations: 12, users: 3, retry: {{max_attempts: 2, timeout_s: 0.5, backoff_base_s: 0.01}}}}
faults:
  dropped-responses: {{toxics: [{{type: drop_response, toxicity: 0.5, attributes: {{mode: reset}}}}]}}
gates:
  idempotent: {{max_duplicate_rate: 0, max_lost_acknowledged: 0}}
"""
    )
    assert main(["run", str(scenario), "--out", str(tmp_path / "r"), "--quiet"]) == 1
    out = " ".join(capsys.readouterr().out.split())  # as one line, however the console wrapped it
    assert "acknowledged: 0 of 12 operations acknowledged (0%), below min_acknowledged_rate 50%" in out
    assert "attempts were answered" in out and "500 ×" in out
    assert "Gates: FAIL" in out and "cannot be checked: the cell is inconclusive" in out
