"""Properties of the checker that must hold for every history, checked on generated ones."""

from __future__ import annotations

from dataclasses import dataclass
from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.checker import check
from harness.history import AttemptEnd, AttemptOutcome, AttemptStart, Event, OpEnd, OpOutcome, OpStart
from harness.ledger import Effect
from harness.verdict import CellVerdict

# (outcome, status, resource id suffix or None, error) of one attempt as the client saw it
_ATTEMPT_SHAPES: list[tuple[AttemptOutcome, int | None, str | None, str | None]] = [
    ("ok", 201, "a", None),
    ("ok", 201, "b", None),
    ("ok", 200, "a", None),
    ("fail", 409, None, None),
    ("info", 503, None, None),
    ("info", None, None, "ReadTimeout"),
    ("info", None, None, "connection reset"),
]


@dataclass(frozen=True)
class OpPlan:
    attempts: tuple[int, ...]  # indexes into _ATTEMPT_SHAPES
    outcome: OpOutcome | None  # None: the client never ended it
    effect_count: int


op_plans = st.builds(
    OpPlan,
    attempts=st.lists(st.integers(0, len(_ATTEMPT_SHAPES) - 1), max_size=4).map(tuple),
    outcome=st.sampled_from(["acknowledged", "rejected", "unknown", None]),
    effect_count=st.integers(0, 3),
)
plans = st.lists(op_plans, min_size=1, max_size=25)
orphans = st.integers(0, 3)


def build(ops: list[OpPlan], orphan_count: int) -> tuple[list[Event], list[Effect]]:
    """A time-ordered history and the effects for the planned ops (ops interleave in time)."""
    events: list[Event] = []
    effects: list[Effect] = []
    for index, plan in enumerate(ops):
        op_id = f"op{index}"
        t = index * 0.1
        events.append(OpStart(t=t, op_id=op_id))
        for number, shape in enumerate(plan.attempts, start=1):
            outcome, status, suffix, error = _ATTEMPT_SHAPES[shape]
            events.append(AttemptStart(t=t + number * 0.03, op_id=op_id, attempt=number))
            events.append(
                AttemptEnd(
                    t=t + number * 0.03 + 0.02,
                    op_id=op_id,
                    attempt=number,
                    outcome=outcome,
                    status=status,
                    resource_id=f"{op_id}-{suffix}" if suffix else None,
                    error=error,
                    latency_s=0.02,
                )
            )
        if plan.outcome is not None:
            events.append(OpEnd(t=t + 0.2, op_id=op_id, outcome=plan.outcome, attempts=len(plan.attempts)))
        effects += [Effect(op_id, f"{op_id}-e{n}", t=t + n * 0.01) for n in range(plan.effect_count)]
    effects += [Effect(f"orphan{n}", f"x{n}") for n in range(orphan_count)]
    events.sort(key=lambda event: event.t)
    return events, effects


def counts(verdict: CellVerdict) -> tuple[object, ...]:
    return (
        verdict.operations,
        verdict.attempts,
        verdict.retries,
        verdict.acknowledged,
        verdict.rejected,
        verdict.unknown,
        verdict.ops_with_duplicates,
        verdict.duplicate_rate,
        verdict.duplicate_rate_interval,
        verdict.extra_effects,
        verdict.extra_effects_per_1000,
        verdict.lost_acknowledged,
        verdict.replay_mismatches,
        verdict.orphan_effects,
        verdict.validity,
        verdict.effect_times,
        tuple((anomaly.kind, anomaly.op_id, anomaly.effect_count) for anomaly in verdict.anomalies),
    )


@settings(max_examples=150, deadline=None)
@given(plans, orphans)
def test_counts_agree_with_the_plan(ops: list[OpPlan], orphan_count: int) -> None:
    events, effects = build(ops, orphan_count)
    verdict = check(events, effects, variant="v", fault="f")

    assert verdict.acknowledged + verdict.rejected + verdict.unknown == verdict.operations == len(ops)
    assert verdict.unknown == sum(plan.outcome in ("unknown", None) for plan in ops)
    assert verdict.attempts == sum(len(plan.attempts) for plan in ops)
    assert verdict.retries == sum(len(plan.attempts) - 1 for plan in ops if plan.attempts)
    assert verdict.ops_with_duplicates == sum(plan.effect_count >= 2 for plan in ops)
    assert verdict.extra_effects == sum(max(0, plan.effect_count - 1) for plan in ops)
    assert verdict.lost_acknowledged == sum(
        plan.outcome == "acknowledged" and plan.effect_count == 0 for plan in ops
    )
    assert verdict.orphan_effects == orphan_count
    bad = verdict.ops_with_duplicates + verdict.lost_acknowledged + verdict.replay_mismatches
    assert verdict.validity == ("invalid" if bad else "valid")
    assert len(verdict.anomalies) == bad


@settings(max_examples=150, deadline=None)
@given(plans, orphans)
def test_duplicate_rate_lies_within_its_interval(ops: list[OpPlan], orphan_count: int) -> None:
    events, effects = build(ops, orphan_count)
    verdict = check(events, effects, variant="v", fault="f")
    interval = verdict.duplicate_rate_interval
    assert 0.0 <= interval.low <= verdict.duplicate_rate <= interval.high <= 1.0


@settings(max_examples=150, deadline=None)
@given(plans, orphans, st.data())
def test_one_more_effect_on_a_single_effect_op_adds_exactly_one_duplicate(
    ops: list[OpPlan], orphan_count: int, data: st.DataObject
) -> None:
    chosen = data.draw(st.integers(0, len(ops) - 1), label="op given exactly one effect")
    ops[chosen] = OpPlan(ops[chosen].attempts, ops[chosen].outcome, effect_count=1)
    events, effects = build(ops, orphan_count)
    before = check(events, effects, variant="v", fault="f")

    after = check(events, [*effects, Effect(f"op{chosen}", "one-more")], variant="v", fault="f")

    assert after.ops_with_duplicates == before.ops_with_duplicates + 1
    assert after.extra_effects == before.extra_effects + 1
    assert after.lost_acknowledged == before.lost_acknowledged
    assert after.validity == "invalid"


@settings(max_examples=150, deadline=None)
@given(plans, orphans, st.randoms(use_true_random=False))
def test_counts_do_not_depend_on_the_order_of_effects(
    ops: list[OpPlan], orphan_count: int, rng: Random
) -> None:
    events, effects = build(ops, orphan_count)
    shuffled = list(effects)
    rng.shuffle(shuffled)
    assert counts(check(events, shuffled, variant="v", fault="f")) == counts(
        check(events, effects, variant="v", fault="f")
    )
