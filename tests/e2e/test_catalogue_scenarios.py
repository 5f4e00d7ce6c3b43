"""Every scenario of the catalogue at small scale: correct variants never duplicate, the naive and
subtly broken ones do under the faults that expose them; in the methods scenario each broken variant
fails its own method check and the correct one passes them all. This is the proof that the harness
finds bugs, not only toy naivety.

Scaled down for the test: fewer operations, and failpoints (and in the methods scenario, toxics) fire
more often so a few dozen operations still meet the fault several times. Fault decisions stay seeded.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.paths import REPO_ROOT
from harness.result import RunResult
from harness.run import RunOptions, run_scenario
from harness.scenario import Scenario, load_scenario

OPERATIONS = 40
FAILPOINT_BOOST = 2.0
DRAIN_BOUND_S = 120.0
"""How long a queue-backed target may take to drain its backlog: a bound, not a wait. With failpoints
boosted it crashes and restarts on the backlog, slowly on a machine busy with other tests' workers."""

# scenario → {(variant, fault): "duplicates" | "clean"}; a pair not listed is only checked for data loss
EXPECTED: dict[str, dict[tuple[str, str], str]] = {
    "orders": {
        ("naive", "dropped-responses"): "duplicates",
        ("naive", "double-submit"): "duplicates",
        ("broken-check-then-act", "double-submit"): "duplicates",
        ("broken-postgres-no-lock", "double-submit"): "duplicates",
        # broken-check-then-act × dropped-responses is not listed: it looks idempotent to sequential
        # retries, but a retry after an attempt timed out on a slow target races the first attempt, and
        # that race is the very bug the variant has; whether one run shows it depends on the timing
        **{(v, f): "clean" for v in ("idempotent", "idempotent-postgres")
           for f in ("dropped-responses", "double-submit", "crash")},
    },
    "inventory": {
        ("naive", "dropped-responses"): "duplicates",
        ("naive", "double-submit"): "duplicates",
        ("broken-check-then-act", "double-submit"): "duplicates",
        **{(v, f): "clean" for v in ("idempotent", "idempotent-cas")
           for f in ("dropped-responses", "double-submit", "crash")},
    },
    "payments-redis": {
        ("naive", "dropped-responses"): "duplicates",
        ("broken-redis-key-after-effect", "double-submit"): "duplicates",
        **{("idempotent-redis", f): "clean" for f in ("dropped-responses", "double-submit", "crash")},
    },
    "mailer": {
        ("naive", "dropped-responses"): "duplicates",
        ("naive", "crash-after-send"): "duplicates",
        ("broken-record-after-send", "crash-after-send"): "duplicates",
        **{("idempotent", f): "clean" for f in ("dropped-responses", "crash-after-send")},
    },
    "consumer": {
        ("naive", "dropped-responses"): "duplicates",
        ("naive", "crash-before-ack"): "duplicates",
        ("broken-inbox-after-effect", "crash-before-ack"): "duplicates",
        **{("idempotent", f): "clean" for f in ("dropped-responses", "crash-before-ack")},
    },
}


def scaled_down(scenario: Scenario) -> Scenario:
    """The same scenario with failpoints firing more often, for a few dozen operations, and (for a
    queue-backed target) a drain bound for a busy machine."""
    faults = {
        name: spec.model_copy(
            update={"failpoints": {k: min(1.0, p * FAILPOINT_BOOST) for k, p in spec.failpoints.items()}}
        )
        for name, spec in scenario.faults.items()
    }
    spec = scenario.target.effects
    if spec.drain_path is None:  # settle_s is then a plain wait, not a bound: left as it is
        return scenario.model_copy(update={"faults": faults})
    effects = spec.model_copy(update={"settle_s": max(spec.settle_s, DRAIN_BOUND_S)})
    target = scenario.target.model_copy(update={"effects": effects})
    return scenario.model_copy(update={"faults": faults, "target": target})


class CatalogueScenario:
    """One scenario's run and the checks on it; a subclass per scenario names it.

    A class each, not a parameter, so that ``make test`` (``pytest -n N --dist loadscope``) hands each
    scenario's run to a worker of its own: the runs mostly wait on retries and faults, not on the CPU.
    """

    scenario: str

    @pytest.fixture(scope="class")
    @classmethod
    def result(cls, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
        path = REPO_ROOT / "scenarios" / f"{cls.scenario}.yaml"
        scenario = scaled_down(load_scenario(path))
        options = RunOptions(out_root=tmp_path_factory.mktemp("reports"), operations=OPERATIONS, fixed=True)
        return run_scenario(scenario, str(path), options)

    def test_variants_behave_as_their_design_says(self, result: RunResult) -> None:
        expected = EXPECTED[result.scenario_name]
        problems = []
        for cell in result.verdict.cells:
            where = f"{cell.variant} × {cell.fault}"
            assert cell.operations == OPERATIONS, where
            assert cell.validity != "unknown", f"{where}: {cell.error}"
            if cell.lost_acknowledged:
                problems.append(f"{where}: {cell.lost_acknowledged} acknowledged operations lost")
            wanted = expected.get((cell.variant, cell.fault))
            if wanted == "duplicates" and cell.ops_with_duplicates == 0:
                problems.append(f"{where}: no duplicates: the harness was not sensitive enough")
            if wanted == "clean" and cell.ops_with_duplicates:
                problems.append(f"{where}: {cell.ops_with_duplicates} duplicated operations")
        assert problems == []

    def test_every_cell_was_reconciled_against_real_effects(self, result: RunResult) -> None:
        for cell in result.verdict.cells:
            effects = Path(result.out_dir, "cells", f"{cell.variant}--{cell.fault}", "effects.json")
            assert effects.is_file()
            assert cell.acknowledged > 0


# Longest run first (most cells): under make test's workers, the last run to start sets the end.
class TestOrders(CatalogueScenario):
    scenario = "orders"


class TestInventory(CatalogueScenario):
    scenario = "inventory"


class TestPaymentsRedis(CatalogueScenario):
    scenario = "payments-redis"


class TestMailer(CatalogueScenario):
    scenario = "mailer"


class TestConsumer(CatalogueScenario):
    scenario = "consumer"


def test_every_expected_scenario_has_its_class() -> None:
    assert sorted(cls.scenario for cls in CatalogueScenario.__subclasses__()) == sorted(EXPECTED)


# -- the checkout saga (scenarios/checkout-saga.yaml) -----------------------------------------------

SAGA_SCENARIO = REPO_ROOT / "scenarios" / "checkout-saga.yaml"
SAGA_OPERATIONS = 10
"""A saga cell starts four services and waits for its sagas to settle: ten checkouts meet each fault a
few times (failpoints boosted), and the nine cells below take about a minute on two cores."""


SAGA_HOLDS_EVERY_INVARIANT = ("idempotent", "idempotent-postgres")
"""The variants with only ``max_`` gates: nothing of theirs is meant to break."""


class CheckoutSagaPart:
    """Part of the saga scenario, scaled down: some variants under some faults, chosen so that each
    wrong variant meets the fault that exposes it, and every gate of the scenario on those cells holds.
    A subclass per part, so that ``make test`` runs them on workers of their own."""

    variants: tuple[str, ...]
    faults: tuple[str, ...]
    operations = SAGA_OPERATIONS

    @pytest.fixture(scope="class")
    @classmethod
    def result(cls, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
        scenario = scaled_down(load_scenario(SAGA_SCENARIO))
        target = scenario.target.model_copy(update={"variants": cls.variants})
        gates = {variant: scenario.gates[variant] for variant in cls.variants}
        shrunk = scenario.model_copy(update={"target": target, "gates": gates})
        options = RunOptions(
            out_root=tmp_path_factory.mktemp("reports"), operations=cls.operations, faults=cls.faults
        )
        return run_scenario(shrunk, str(SAGA_SCENARIO), options)

    def test_every_gate_of_the_scenario_holds(self, result: RunResult) -> None:
        cells = {(cell.variant, cell.fault) for cell in result.verdict.cells}
        assert cells == {(variant, fault) for variant in self.variants for fault in self.faults}
        tripped = {gate.variant for gate in result.gates if gate.name.startswith("min_")}
        assert tripped == {variant for variant in self.variants if variant not in SAGA_HOLDS_EVERY_INVARIANT}
        assert [gate.message for gate in result.gates if not gate.passed] == []


class TestCheckoutSagaCrashedPaymentsAndDoubleSubmits(CheckoutSagaPart):
    variants = ("idempotent", "naive")
    faults = ("participant-crash", "double-submit")
    operations = 20  # a crashed payments undoes many checkouts: enough must still go through


class TestCheckoutSagaSlowAndLostAnswers(CheckoutSagaPart):
    variants = ("broken-compensate-on-timeout", "broken-compensation-not-idempotent")
    faults = ("late-charge", "lost-refunds")
    # lost-refunds retries a refund by its seeds; a late charge is one call in three: none in 20 is 2e-4
    operations = 20


class TestCheckoutSagaOrchestratorCrash(CheckoutSagaPart):
    variants = ("broken-no-saga-log", "idempotent-postgres")  # a log lost, a log kept in Postgres
    faults = ("orchestrator-crash",)
    operations = 16  # a quarter stop at step 1 (out of stock): ten checkouts can pass step 2 unharmed


def test_the_saga_parts_meet_every_fault_and_every_variant() -> None:
    scenario = load_scenario(SAGA_SCENARIO)
    parts = CheckoutSagaPart.__subclasses__()
    assert {fault for part in parts for fault in part.faults} == set(scenario.faults)
    assert {variant for part in parts for variant in part.variants} == set(scenario.target.variants)


# -- the HTTP method contract (scenarios/methods.yaml) ----------------------------------------------

METHODS_SCENARIO = REPO_ROOT / "scenarios" / "methods.yaml"
TOXICITY_BOOST = 2.0
"""At 40 operations a cell makes about ten acts of each method. At the scenario's 30% a cell can retry
none of its PUTs (a trial run's broken PUT under latency passed unseen); at 60% about half of them are
retried, and in three runs each wrong variant's own count was 1 to 12 per cell, never 0."""
KEPT_BY_IDEMPOTENT = (
    "put_state_mismatches",
    "patch_state_mismatches",
    "delete_errors",
    "unsafe_reads",
    "duplicate_rate",
)
CAUGHT_BY = {
    "naive": "patch_state_mismatches",
    "broken-put-appends": "put_state_mismatches",
    "broken-delete-500": "delete_errors",
    "broken-get-counts-views": "unsafe_reads",
}
"""Each wrong variant and the method metric its own bug must raise, under every fault."""


def with_toxics_boosted(scenario: Scenario) -> Scenario:
    """The same scenario with every toxic firing more often (at most always)."""
    faults = {
        name: spec.model_copy(
            update={
                "toxics": tuple(
                    toxic.model_copy(update={"toxicity": min(1.0, toxic.toxicity * TOXICITY_BOOST)})
                    for toxic in spec.toxics
                )
            }
        )
        for name, spec in scenario.faults.items()
    }
    return scenario.model_copy(update={"faults": faults})


class MethodsUnderOneFault:
    """The methods scenario's five variants under one of its faults; a subclass per fault, so that
    ``make test`` runs the two halves on workers of their own."""

    fault: str

    @pytest.fixture(scope="class")
    @classmethod
    def result(cls, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
        scenario = with_toxics_boosted(load_scenario(METHODS_SCENARIO))
        options = RunOptions(
            out_root=tmp_path_factory.mktemp("reports"),
            operations=OPERATIONS,
            faults=(cls.fault,),
            fixed=True,
        )
        return run_scenario(scenario, str(METHODS_SCENARIO), options)

    def test_every_gate_of_the_scenario_holds(self, result: RunResult) -> None:
        assert {cell.variant for cell in result.verdict.cells} == {"idempotent", *CAUGHT_BY}
        for cell in result.verdict.cells:  # each operation is a create and an act on what it made
            assert cell.operations == 2 * OPERATIONS, f"{cell.variant} × {cell.fault}"
        assert {gate.variant for gate in result.gates} == {"idempotent", *CAUGHT_BY}
        assert [gate.message for gate in result.gates if not gate.passed] == []

    def test_each_wrong_variant_is_caught_by_its_own_method_check(self, result: RunResult) -> None:
        wrong = [cell for cell in result.verdict.cells if cell.variant in CAUGHT_BY]
        missed = [cell.variant for cell in wrong if not cell.number(CAUGHT_BY[cell.variant]) > 0]
        assert len(wrong) == len(CAUGHT_BY) and missed == []

    def test_the_idempotent_variant_keeps_the_method_table_conclusively(self, result: RunResult) -> None:
        (cell,) = result.verdict.for_variant("idempotent")
        assert not cell.inconclusive, cell.error
        assert cell.validity == "valid"
        kept = {name: cell.number(name) for name in KEPT_BY_IDEMPOTENT}
        assert kept == dict.fromkeys(KEPT_BY_IDEMPOTENT, 0)


class TestMethodsUnderDroppedResponses(MethodsUnderOneFault):
    fault = "dropped-responses"


class TestMethodsUnderLatency(MethodsUnderOneFault):
    fault = "latency"


def test_every_fault_of_the_methods_scenario_has_its_class() -> None:
    faults = sorted(cls.fault for cls in MethodsUnderOneFault.__subclasses__())
    assert faults == sorted(load_scenario(METHODS_SCENARIO).faults)
