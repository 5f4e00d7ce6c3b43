"""The checkout saga under ``--runtime docker``: the orchestrator and its three participants each in a
container of its own on the host network, payments crashing after a commit and restarted on its
volume, the saga read and judged as under processes, and nothing of the run left in the engine.

Small on purpose (one variant, one fault, a few checkouts): eight containers start per cell and this
machine is shared. Needs an engine (the ``engine`` fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from docker import DockerClient
from docker_engine import leftovers

from harness.checkers.registry import checkers
from harness.checkers.saga_story import SagaChecker
from harness.faults import cell_seed
from harness.history import CrashEvent, RestartEvent
from harness.paths import REPO_ROOT
from harness.result import RunResult
from harness.run import RunOptions, run_scenario
from harness.saga_evidence import SAGA_FILE, read_saga_evidence_file
from harness.scenario import load_scenario
from targets.targetkit.failpoints import AFTER_COMMIT_BEFORE_RESPONSE, decide

SCENARIO = REPO_ROOT / "scenarios" / "checkout-saga.yaml"
VARIANT = "idempotent"
FAULT = "participant-crash"
OPERATIONS = 6
"""Every checkout commits a charge at payments (out-of-stock ones a refund too): at least six hits of
its failpoint, and :func:`test_the_seed_crashes_payments_within_the_run` checks one of them fires."""
SAGA_CHECKERS = tuple(checker.name for checker in checkers() if isinstance(checker, SagaChecker))


@pytest.fixture(scope="module")
def result(engine: DockerClient, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    scenario = load_scenario(SCENARIO)
    target = scenario.target.model_copy(update={"variants": (VARIANT,)})
    shrunk = scenario.model_copy(update={"target": target, "gates": {VARIANT: scenario.gates[VARIANT]}})
    options = RunOptions(out_root=tmp_path_factory.mktemp("reports"), runtime="docker", operations=OPERATIONS,
                         faults=(FAULT,), parallel_cells=1)
    return run_scenario(shrunk, str(SCENARIO), options)


def test_the_seed_crashes_payments_within_the_run() -> None:
    """The crash the other tests look for is decided by the scenario's seed, not left to chance."""
    scenario = load_scenario(SCENARIO)
    probability = scenario.faults[FAULT].failpoints[AFTER_COMMIT_BEFORE_RESPONSE]
    seed = cell_seed(scenario.seed, FAULT)
    assert any(decide(seed, 0, AFTER_COMMIT_BEFORE_RESPONSE, hit, probability) for hit in range(OPERATIONS))


def test_payments_crashed_in_its_container_and_came_back(result: RunResult) -> None:
    assert result.runtime == "docker"
    cell = result.verdict.cell(VARIANT, FAULT)
    crashes = [event for event in cell.fault_events if isinstance(event, CrashEvent)]
    assert any(crash.reason == "failpoint" and crash.detail == "exit status 17" for crash in crashes)
    assert any(isinstance(event, RestartEvent) for event in cell.fault_events)


def test_the_saga_is_read_from_every_container_and_holds_every_invariant(result: RunResult) -> None:
    cell = result.verdict.cell(VARIANT, FAULT)
    evidence = read_saga_evidence_file(Path(result.out_dir, "cells", f"{VARIANT}--{FAULT}", SAGA_FILE))
    assert evidence is not None and evidence.unreadable() == []
    assert len(evidence.sagas) >= OPERATIONS
    assert {read.role.name for read in evidence.participants if read.rows} == {"payments", "inventory",
                                                                                "shipping"}
    verdicts = {name: cell.check(name).validity for name in SAGA_CHECKERS}  # type: ignore[union-attr]
    assert verdicts == dict.fromkeys(SAGA_CHECKERS, "valid")
    assert [gate.message for gate in result.gates if not gate.passed] == []


def test_no_container_or_volume_of_the_run_is_left(engine: DockerClient, result: RunResult) -> None:
    assert leftovers(engine, result.run_id) == []
