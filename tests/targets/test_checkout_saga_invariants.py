"""The saga probe and checkers against the real checkout saga (four processes per test).

Two checkouts each: one that completes, and one refused for want of stock, whose charge is refunded.
The first refund takes longer than the orchestrator's call timeout (CHECKOUT_SLOW_FIRST), so the
refund is sent again with its key: the idempotent variant pays it once, the broken one twice.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checkout_cluster import PARTICIPANTS, checkout_body, running_cluster

from harness.checker import CellExpectations, check
from harness.checkers.registry import checkers
from harness.checkers.saga_story import SagaChecker
from harness.saga_reads import read_saga_evidence

SAGA_CHECKERS = tuple(checker.name for checker in checkers() if isinstance(checker, SagaChecker))
SETTLE_S = 20.0
QUIET_S = 2.0  # longer than the slow first refund's late commit


@pytest.mark.parametrize(
    ("variant", "broken"),
    [
        ("idempotent", set()),
        ("broken-compensation-not-idempotent", {"saga_step_once", "money_conserved"}),
    ],
)
def test_the_saga_checkers_find_a_refund_paid_twice_and_nothing_in_the_idempotent_variant(
    tmp_path: Path, variant: str, broken: set[str]
) -> None:
    slow = {"payments": {"CHECKOUT_SLOW_FIRST": "refund=700"}}
    with running_cluster(tmp_path, variant, participant_env=slow) as cluster:
        completed = cluster.checkout(checkout_body("op-1"), key="k-1")
        refused = cluster.checkout(checkout_body("op-2", quantity=101), key="k-2")
        read = read_saga_evidence(
            cluster.url("orchestrator"),
            {role: cluster.url(role) for role in PARTICIPANTS},
            SETTLE_S,
            quiet_s=QUIET_S,
        )

    cell = check([], [], variant=variant, fault="slow-refund", saga=read, expect=CellExpectations(saga=True))

    assert (completed.status_code, refused.status_code) == (201, 409)
    assert read.settled and [saga.status for saga in read.sagas] == ["done", "compensated"]
    verdicts = {name: cell.check(name).validity for name in SAGA_CHECKERS}  # type: ignore[union-attr]
    assert verdicts == {name: "invalid" if name in broken else "valid" for name in SAGA_CHECKERS}
    if broken:
        story = cell.check("saga_step_once").anomalies[0]  # type: ignore[union-attr]
        assert (
            story.op_id == "op-2"
            and "the refund of step 1 at payments took effect 2 times (1400 in all)" in story.explanation
        )
