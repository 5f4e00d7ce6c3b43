"""The check-then-act pattern WITHOUT a lock: the subtly broken idempotency people ship, on purpose.

Look the key up; if it is absent, do the work and record the effect with its key. Sequential retries
replay, so the variant looks idempotent in every ordinary test. Two attempts of one operation that
overlap (a client timeout and retry while the first still runs, exactly what latency faults provoke)
both find nothing and both act: a duplicate. So does a crash between the effect and the key record when
they are written separately. Reference targets use this for their `broken-*` variants, so the harness
must catch it. `between_check_and_act` is a failpoint in the gap; HARNESS_WORK_MS widens it.
"""

from __future__ import annotations

from collections.abc import Callable

from targets.targetkit.failpoints import Failpoints
from targets.targetkit.idempotency import Outcome, Verdict
from targets.targetkit.keystore import StoredResponse
from targets.targetkit.replay import KeyedResponse, replay_or_refuse

BETWEEN_CHECK_AND_ACT = "between_check_and_act"


def check_then_act(payload_fingerprint: str, find: Callable[[], KeyedResponse | None],
                   work: Callable[[], None], failpoints: Failpoints,
                   act: Callable[[], StoredResponse]) -> Outcome:
    """Replay what `find` finds; otherwise run `work` and `act` with nothing held in between."""
    found = find()
    if found is not None:
        return replay_or_refuse(found, payload_fingerprint)
    work()
    failpoints.hit(BETWEEN_CHECK_AND_ACT)
    return Outcome(Verdict.FRESH, act())
