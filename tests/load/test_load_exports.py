"""The public surface of harness.load, and the promise that importing it does not import Locust."""

from __future__ import annotations

import subprocess
import sys

import harness.load
from harness.paths import REPO_ROOT


def test_exported_members_are_pinned() -> None:
    assert sorted(harness.load.__all__) == [
        "Classification",
        "Distribution",
        "DriverSummary",
        "LoadCellConfig",
        "LoadLink",
        "OperationRequest",
        "backoff_s",
        "build_request",
        "classify_failure",
        "classify_status",
        "final_outcome",
        "idempotency_key",
        "load_cell_config",
        "op_id_for",
        "run_driver",
        "serve_as_worker",
        "should_retry",
    ]
    assert all(hasattr(harness.load, name) for name in harness.load.__all__)


def test_the_orchestrators_imports_leave_the_process_without_locust_or_gevent() -> None:
    """A fresh interpreter, since this test process may have imported anything by now."""
    code = (
        "import sys, harness.load, harness.load.config, harness.load.retry, harness.load.operations, "
        "harness.load.flow, harness.load.addresses, harness.load.link; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent', 'requests')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30, check=True
    )
    assert done.stdout.strip() == "[]"
