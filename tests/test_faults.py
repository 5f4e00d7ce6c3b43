"""The fault plan is pure and seeded: same seed and fault, same plan, whatever the variant."""

from __future__ import annotations

from harness.faults import cell_seed, plan_fault
from harness.proxy.client import HTTP_TOXICS
from harness.scenario import CrashSpec, FaultSpec, ToxicSpec

SPEC = FaultSpec(
    toxics=(
        ToxicSpec(type="drop_response", toxicity=0.2, attributes={"mode": "reset"}),
        ToxicSpec(type="latency", stream="upstream", attributes={"latency": 100}),
    ),
    crashes=CrashSpec(count=3, min_interval_s=2.0, first_after_s=1.0),
    failpoints={"after_commit_before_response": 0.05, "before_commit": 0.01},
)


def test_same_seed_same_plan() -> None:
    assert plan_fault("drops", SPEC, 7) == plan_fault("drops", SPEC, 7)


def test_seed_depends_on_fault_name_and_scenario_seed() -> None:
    assert cell_seed(7, "drops") != cell_seed(7, "latency")
    assert cell_seed(7, "drops") != cell_seed(8, "drops")
    assert plan_fault("drops", SPEC, 7).kill_times_s != plan_fault("drops", SPEC, 8).kill_times_s


def test_toxic_calls_keep_toxiproxy_terms_and_seed_only_http_toxics() -> None:
    plan = plan_fault("drops", SPEC, 7)
    drop, latency = plan.toxics
    assert (drop.name, drop.type, drop.stream, drop.toxicity) == (
        "drop_response_downstream",
        "drop_response",
        "downstream",
        0.2,
    )
    assert drop.attributes == {"mode": "reset", "seed": plan.seed}
    assert latency.name == "latency_upstream"
    assert latency.attributes == {"latency": 100}
    assert plan.http_toxics == {"drop_response"}


def test_kill_times_fall_in_their_slots() -> None:
    plan = plan_fault("crash", SPEC, 7)
    assert len(plan.kill_times_s) == 3
    for number, moment in enumerate(plan.kill_times_s):
        slot_start = 1.0 + number * 2.0
        assert slot_start <= moment <= slot_start + 2.0


def test_failpoints_and_seed_reach_the_target_environment() -> None:
    plan = plan_fault("crash", SPEC, 7)
    assert plan.target_env == {
        "HARNESS_SEED": str(plan.seed),
        "HARNESS_FAILPOINTS": "after_commit_before_response=0.05,before_commit=0.01",
    }


def test_no_faults_is_an_empty_plan() -> None:
    plan = plan_fault("none", FaultSpec(), 1)
    assert plan.toxics == () and plan.kill_times_s == () and plan.http_toxics == frozenset()
    assert plan.target_env == {"HARNESS_SEED": str(plan.seed)}


def test_the_http_toxics_are_the_ones_deciding_per_request() -> None:
    """Derived from each toxic's own ``per_request`` flag, not kept by hand."""
    assert HTTP_TOXICS == ("drop_response", "http_error", "http_latency")


def test_a_plan_crashes_its_target_with_kills_or_failpoints_not_with_toxics_alone() -> None:
    assert plan_fault("crash", SPEC, 7).crashes_target
    assert plan_fault("kills", FaultSpec(crashes=CrashSpec(count=1, min_interval_s=1.0)), 7).crashes_target
    assert plan_fault("exits", FaultSpec(failpoints={"before_commit": 0.1}), 7).crashes_target
    assert not plan_fault("drops", FaultSpec(toxics=SPEC.toxics), 7).crashes_target
