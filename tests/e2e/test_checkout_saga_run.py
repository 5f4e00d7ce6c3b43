"""The checkout saga through the whole run loop at small scale: four services per cell, each behind its
hop's proxy, the saga read into saga.json after the load, judged by the saga checkers and the gates.

Under lost answers from payments (its charges and refunds), the idempotent variant holds every saga
invariant, and the variant whose participants do not dedupe compensations pays a retried refund twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checkers.registry import checkers
from harness.checkers.saga_story import SagaChecker
from harness.paths import REPO_ROOT
from harness.result import RunResult
from harness.run import RunOptions, run_scenario
from harness.saga_evidence import SAGA_FILE
from harness.scenario import load_scenario

SCENARIO = REPO_ROOT / "scenarios" / "checkout-saga.yaml"
VARIANTS = ("idempotent", "broken-compensation-not-idempotent")
FAULT = "lost-refunds"
OPERATIONS = 12
"""The fault's seeds refuse the cell's first reservation and drop the answer to its first refund (see the
scenario), so a retried refund does not depend on the count; 12 leave the cell its acknowledgements."""
SAGA_CHECKERS = tuple(checker.name for checker in checkers() if isinstance(checker, SagaChecker))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    scenario = load_scenario(SCENARIO)
    target = scenario.target.model_copy(update={"variants": VARIANTS})
    gates = {variant: scenario.gates[variant] for variant in VARIANTS}
    shrunk = scenario.model_copy(update={"target": target, "gates": gates})
    options = RunOptions(
        out_root=tmp_path_factory.mktemp("reports"), operations=OPERATIONS, faults=(FAULT,), parallel_cells=1
    )
    return run_scenario(shrunk, str(SCENARIO), options)


def test_idempotent_holds_every_saga_invariant_and_the_broken_variant_pays_a_refund_twice(
    result: RunResult,
) -> None:
    verdicts = {
        cell.variant: {name: cell.check(name).validity for name in SAGA_CHECKERS}  # type: ignore[union-attr]
        for cell in result.verdict.cells
    }

    assert verdicts["idempotent"] == dict.fromkeys(SAGA_CHECKERS, "valid")
    broken = verdicts["broken-compensation-not-idempotent"]
    assert (broken["saga_step_once"], broken["money_conserved"]) == ("invalid", "invalid")
    assert result.passed, [gate for gate in result.gates if not gate.passed]


def test_every_cell_read_its_sagas_directly_and_left_each_service_a_log(result: RunResult) -> None:
    for variant in VARIANTS:
        folder = Path(result.out_dir, "cells", f"{variant}--{FAULT}")
        assert (folder / SAGA_FILE).is_file() and (folder / "effects.json").is_file()
        for service in ("target", "payments", "inventory", "shipping"):
            assert (folder / f"{service}.log").is_file(), service
        story = next(
            (a.explanation for cell in result.verdict.cells if cell.variant == variant
             for a in cell.check("saga_step_once").anomalies),  # type: ignore[union-attr]
            "",
        )
        assert ("the refund of step 1 at payments took effect" in story) == (variant != "idempotent")
