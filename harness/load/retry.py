"""The retry policy's meaning: what one attempt's answer means, whether to try again, how long to wait.

Pure on purpose (no I/O, no clock, randomness only from a ``random.Random`` the caller seeds), so
the decisions the load driver takes under faults can be tested exactly and replayed from a seed.

An attempt ends in one of the history's outcomes (Jepsen's ``ok`` / ``fail`` / ``info``) and, when
it could be retried, in one *retry class* named like ``RetryPolicySpec.retry_on``::

    2xx                      ok    no retry class (done)
    409, 429                 fail  "409" / "429"   (the server refused this attempt; retryable if listed)
    other 4xx                fail  none            (rejected: final)
    5xx                      info  "5xx"           (the server may have done the work)
    timeout                  info  "timeout"
    reset / closed / broken  info  "connection_error"
    connection refused       fail  "connection_error" (nothing was sent, so it certainly did not apply)
    1xx / 3xx                info  none            (not expected from a POST; not retried, not trusted)
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from harness.history import AttemptOutcome, OpOutcome
from harness.scenario import RetryOn, RetryPolicySpec, SuccessSpec

TransportFailure = Literal["timeout", "connection_error", "connection_refused"]


@dataclass(frozen=True)
class Classification:
    """What one attempt's result means: its history outcome and the retry class it falls under."""

    outcome: AttemptOutcome
    retry_class: RetryOn | None = None
    status: int | None = None

    @property
    def acknowledged(self) -> bool:
        return self.outcome == "ok"

    @property
    def refused(self) -> bool:
        """A refused connection: nothing listened (the target down, or restarting after a crash)."""
        return self.outcome == "fail" and self.retry_class == "connection_error"


def classify_status(status: int) -> Classification:
    """Classify an HTTP status the server sent back."""
    if 200 <= status < 300:
        return Classification("ok", None, status)
    if status == 409:
        return Classification("fail", "409", status)
    if status == 429:
        return Classification("fail", "429", status)
    if 400 <= status < 500:
        return Classification("fail", None, status)
    if 500 <= status < 600:
        return Classification("info", "5xx", status)
    return Classification("info", None, status)


def classify_answer(status: int, body: object, success: SuccessSpec | None) -> Classification:
    """Classify an answer by the operation kind's success rule (by its status alone without one).

    An answer the rule turns down is ``fail`` with no retry class when its status alone would have
    meant done (a 2xx the rule does not accept); any other status keeps its usual class.
    """
    by_status = classify_status(status)
    if success is None:
        return by_status
    if success.accepts_status(status) and success.accepts_body(body):
        return Classification("ok", None, status)
    return Classification("fail", None, status) if by_status.acknowledged else by_status


def classify_failure(failure: TransportFailure) -> Classification:
    """Classify an attempt that got no HTTP answer at all."""
    if failure == "timeout":
        return Classification("info", "timeout")
    if failure == "connection_refused":
        return Classification("fail", "connection_error")
    return Classification("info", "connection_error")


# The decisions below are functions of the scenario's own RetryPolicySpec, which is also what the
# driver process receives: one model of the policy, its meaning kept here beside the classification.


def is_retryable(policy: RetryPolicySpec, result: Classification) -> bool:
    """Whether this kind of answer is one the policy retries (ignoring the attempt count)."""
    return result.retry_class is not None and result.retry_class in policy.retry_on


def preference(policy: RetryPolicySpec, result: Classification) -> int:
    """Rank of an answer when two answers to one double-submitted attempt compete (lower decides).

    A 2xx wins (the caller got its answer); else a retryable answer (so the op retries, as
    the caller would); else an unknown one over a final rejection, since the other request
    may have taken effect.
    """
    if result.acknowledged:
        return 0
    if is_retryable(policy, result):
        return 1
    return 2 if result.outcome == "info" else 3


def should_retry(policy: RetryPolicySpec, attempt: int, result: Classification) -> bool:
    """Whether to send attempt ``attempt + 1`` after attempt ``attempt`` ended with ``result``."""
    return attempt < policy.max_attempts and is_retryable(policy, result)


def backoff_cap_s(policy: RetryPolicySpec, attempt: int) -> float:
    """The longest wait after attempt ``attempt`` (1-based): ``min(max, base * 2**(attempt-1))``.

    Doubles step by step and stops at the cap, so a huge attempt number cannot overflow.
    """
    if attempt < 1:
        raise ValueError(f"attempt numbers start at 1 (got {attempt})")
    cap = policy.backoff_base_s
    for _ in range(attempt - 1):
        if cap >= policy.backoff_max_s:
            break
        cap *= 2
    return min(cap, policy.backoff_max_s)


def backoff_s(policy: RetryPolicySpec, attempt: int, rng: random.Random, *, refused: bool = False) -> float:
    """The wait after attempt ``attempt``: uniform in ``[0, cap]`` with full jitter, else the cap.

    Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter") spreads retries of many
    clients over ``[0, cap]`` so they do not arrive at the server in lock step. After a ``refused``
    connection the wait is at least half the cap ("equal jitter"): nothing listened, so a quick retry
    only spends an attempt on a closed port, and the attempts left must outlast a target's restart
    (with the floor, ten attempts at 0.1 s doubling to 2 s wait at least 5.5 s in all, whatever the
    draws), or an operation the crash hit gives up before the restarted target could answer it.
    """
    cap = backoff_cap_s(policy, attempt)
    if policy.jitter == "none":
        return cap
    floor = cap / 2 if refused else 0.0
    return rng.uniform(floor, cap)


def final_outcome(policy: RetryPolicySpec, last: Classification | None) -> OpOutcome:
    """The operation's outcome as its caller would see it, from the last attempt it made.

    A retryable answer as the last one means the policy gave up (attempts exhausted or the run
    stopped), so whatever the earlier attempts did is unknown.
    """
    if last is None:
        return "unknown"
    if last.acknowledged:
        return "acknowledged"
    if last.outcome == "fail" and last.status is not None and not is_retryable(policy, last):
        return "rejected"
    return "unknown"
