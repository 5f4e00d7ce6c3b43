"""A hand-made run (2 variants × 2 faults) whose every number the report tests can assert exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import cell_verdict
from factories import run_result as finished_run

from harness.gate import evaluate_gates
from harness.history import AttemptEnd, AttemptOutcome, CrashEvent, FaultEvent, RestartEvent
from harness.result import RunResult
from harness.scenario import GateSpec
from harness.verdict import Anomaly, CellVerdict, Interval, RunVerdict

T0 = 1_750_000_000.0
"""2025-06-15 15:06:40 UTC: the start of every cell below."""

DUPLICATED_OPS = ("op-naive-drop-0007", "op-naive-drop-0019", "op-naive-crash-0003", "op-idem-crash-0011")
LOST_OP = "op-naive-crash-0021"


def attempt(
    op_id: str,
    number: int,
    t: float,
    outcome: AttemptOutcome,
    status: int | None,
    error: str | None,
    latency_s: float,
) -> AttemptEnd:
    return AttemptEnd(
        t=T0 + t,
        op_id=op_id,
        attempt=number,
        outcome=outcome,
        status=status,
        error=error,
        latency_s=latency_s,
        resource_id=None if status is None else f"pay_{op_id}",
    )


def timed_out_then_ok(op_id: str, t: float) -> tuple[AttemptEnd, ...]:
    """The classic duplicate: the first response is lost, the retry succeeds and charges again."""
    return (
        attempt(op_id, 1, t, "info", None, "timeout", 1.0),
        attempt(op_id, 2, t + 1.1, "ok", 201, None, 0.042),
    )


def duplicate(
    op_id: str,
    t: float,
    nearby: tuple[FaultEvent | CrashEvent | RestartEvent, ...] = (),
    explanation: str = "",
) -> Anomaly:
    return Anomaly(
        kind="duplicate_effect",
        op_id=op_id,
        effect_count=2,
        resource_ids=(f"pay_{op_id}_a", f"pay_{op_id}_b"),
        attempts=timed_out_then_ok(op_id, t),
        nearby_faults=nearby,
        explanation=explanation,
    )


DROP_ON = FaultEvent(t=T0 + 0.2, name="dropped_response", action="on", detail="reset_peer toxicity 0.2")
DROP_OFF = FaultEvent(t=T0 + 9.8, name="dropped_response", action="off")
CRASH_1 = CrashEvent(t=T0 + 3.0, reason="kill", detail="SIGKILL pid 4242")
RESTART_1 = RestartEvent(t=T0 + 3.6, downtime_s=0.6)
CRASH_2 = CrashEvent(t=T0 + 7.0, reason="failpoint", detail="after_commit_before_response")
RESTART_2 = RestartEvent(t=T0 + 7.5, downtime_s=0.5)
CRASH_EVENTS = (CRASH_1, RESTART_1, CRASH_2, RESTART_2)


def latencies(count: int, slow_every: int) -> tuple[float, ...]:
    return tuple(1.0 if index % slow_every == 0 else 0.01 + (index % 7) * 0.005 for index in range(count))


def effects(count: int) -> tuple[float, ...]:
    return tuple(T0 + 0.25 * index for index in range(count))


def make_cells() -> tuple[CellVerdict, ...]:
    naive_drop = cell_verdict(
        "naive",
        "dropped_response",
        operations=40,
        attempts=52,
        retries=12,
        acknowledged=36,
        rejected=1,
        unknown=3,
        exposed_ops=12,
        ops_with_duplicates=5,
        duplicate_rate_interval=Interval(0.0546, 0.2614),
        extra_effects=6,
        extra_effects_per_1000=150.0,
        validity="invalid",
        anomalies=(
            duplicate(
                DUPLICATED_OPS[0],
                1.5,
                (DROP_ON,),
                "attempt 1 timed out after the charge; retry charged again",
            ),
            duplicate(DUPLICATED_OPS[1], 4.0, (DROP_ON,)),
        ),
        attempt_latencies_s=latencies(52, 4),
        fault_events=(DROP_ON, DROP_OFF),
        effect_times=effects(46),
    )
    naive_crash = cell_verdict(
        "naive",
        "crash",
        operations=40,
        attempts=47,
        retries=7,
        acknowledged=37,
        unknown=3,
        exposed_ops=9,
        ops_with_duplicates=2,
        duplicate_rate_interval=Interval(0.0138, 0.1650),
        extra_effects=2,
        extra_effects_per_1000=50.0,
        lost_acknowledged=1,
        validity="invalid",
        anomalies=(
            duplicate(DUPLICATED_OPS[2], 2.5, (CRASH_1, RESTART_1)),
            Anomaly(
                kind="lost_acknowledged",
                op_id=LOST_OP,
                effect_count=0,
                resource_ids=(),
                attempts=(attempt(LOST_OP, 1, 6.9, "ok", 201, None, 0.03),),
                nearby_faults=(CRASH_2,),
                explanation="acknowledged with 201 but no payment exists",
            ),
        ),
        attempt_latencies_s=latencies(47, 6),
        crashes=2,
        fault_events=CRASH_EVENTS,
        effect_times=effects(41),
    )
    idempotent_drop = cell_verdict(
        "idempotent",
        "dropped_response",
        operations=40,
        attempts=51,
        retries=11,
        acknowledged=39,
        rejected=1,
        exposed_ops=11,
        duplicate_rate_interval=Interval(0.0, 0.0876),
        attempt_latencies_s=latencies(51, 4),
        fault_events=(DROP_ON, DROP_OFF),
        effect_times=effects(40),
    )
    idempotent_crash = cell_verdict(
        "idempotent",
        "crash",
        operations=40,
        attempts=45,
        retries=5,
        acknowledged=38,
        unknown=2,
        exposed_ops=7,
        ops_with_duplicates=1,
        duplicate_rate_interval=Interval(0.0044, 0.1285),
        extra_effects=1,
        extra_effects_per_1000=25.0,
        replay_mismatches=2,
        validity="invalid",
        anomalies=(
            duplicate(DUPLICATED_OPS[3], 6.5, (CRASH_2,), "crash after commit, before the key was saved"),
        ),
        attempt_latencies_s=latencies(45, 9),
        crashes=2,
        fault_events=CRASH_EVENTS,
        effect_times=effects(41),
    )
    return naive_drop, naive_crash, idempotent_drop, idempotent_crash


GATE_SPECS = {
    "naive": GateSpec(min_duplicate_rate=0.01),
    "idempotent": GateSpec(max_duplicate_rate=0.0, max_lost_acknowledged=0),
}
"""Six results on these cells: the idempotent variant's duplicate under crashes is the one failure."""


def make_run_result(out_dir: Path) -> RunResult:
    verdict = RunVerdict(cells=make_cells())
    return finished_run(
        verdict,
        evaluate_gates(GATE_SPECS, verdict),
        out_dir,
        run_id="run-20250615-150640-ab12",
        scenario_name="payments-retries",
        scenario_path="scenarios/payments.yaml",
        description="Card payments under dropped responses and crashes <naive vs idempotent>",
        seed=7,
        started_at=T0,
        duration_s=21.5,
        variants=("naive", "idempotent"),
        faults=("dropped_response", "crash"),
    )


@pytest.fixture
def run_result(tmp_path: Path) -> RunResult:
    """The sample run, writing into a fresh folder."""
    return make_run_result(tmp_path / "run")


@pytest.fixture(scope="session")
def shared_run_result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The same run for module-scoped fixtures (it is frozen, so sharing it is safe)."""
    return make_run_result(tmp_path_factory.mktemp("shared") / "run")
