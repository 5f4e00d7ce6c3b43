"""The checkout saga's idempotent-postgres variant through the run loop at small scale: its orchestrator
keeps the saga log in the cell's Postgres database (the cell's store env reaches it; the participants
keep their own SQLite ledgers), so an orchestrator crash after step 2 is resumed from Postgres and every
saga invariant holds.

The scenario starts the Postgres server (``services: [postgres]``, one per run, a database per cell).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checkers.registry import checkers
from harness.checkers.saga_story import SagaChecker
from harness.history import CrashEvent, RestartEvent, read_history
from harness.paths import REPO_ROOT
from harness.result import RunResult
from harness.run import RunOptions, run_scenario
from harness.scenario import load_scenario

SCENARIO = REPO_ROOT / "scenarios" / "checkout-saga.yaml"
VARIANT = "idempotent-postgres"
FAULT = "orchestrator-crash"
OPERATIONS = 12
SAGA_CHECKERS = tuple(checker.name for checker in checkers() if isinstance(checker, SagaChecker))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    scenario = load_scenario(SCENARIO)
    assert scenario.gates[VARIANT] == scenario.gates["idempotent"]  # the same promise as the SQLite log's
    target = scenario.target.model_copy(update={"variants": (VARIANT,)})
    gates = {VARIANT: scenario.gates[VARIANT]}
    shrunk = scenario.model_copy(update={"target": target, "gates": gates})
    options = RunOptions(
        out_root=tmp_path_factory.mktemp("reports"), operations=OPERATIONS, faults=(FAULT,), parallel_cells=1
    )
    return run_scenario(shrunk, str(SCENARIO), options)


def test_a_postgres_saga_log_resumes_every_saga_after_the_orchestrator_crashes(result: RunResult) -> None:
    (cell,) = result.verdict.cells
    folder = Path(result.out_dir, "cells", f"{VARIANT}--{FAULT}")
    events = read_history([folder / "faults.jsonl"])

    assert any(isinstance(event, CrashEvent) for event in events), "the orchestrator never crashed"
    assert any(isinstance(event, RestartEvent) for event in events)
    assert {name: cell.check(name).validity for name in SAGA_CHECKERS} == dict.fromkeys(  # type: ignore[union-attr]
        SAGA_CHECKERS, "valid"
    )
    assert [gate.message for gate in result.gates if not gate.passed] == []
