"""The retry policy: classification, backoff bounds, full jitter and seeded repeatability."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.load.retry import (
    Classification,
    backoff_cap_s,
    backoff_s,
    classify_answer,
    classify_failure,
    classify_status,
    final_outcome,
    preference,
    should_retry,
)
from harness.scenario import RetryPolicySpec, SuccessSpec


def policy(**changes: object) -> RetryPolicySpec:
    values: dict[str, object] = {"max_attempts": 4, "backoff_base_s": 0.1, "backoff_max_s": 1.0}
    values.update(changes)
    return RetryPolicySpec.model_validate(values)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, Classification("ok", None, 200)),
        (201, Classification("ok", None, 201)),
        (400, Classification("fail", None, 400)),
        (404, Classification("fail", None, 404)),
        (409, Classification("fail", "409", 409)),
        (422, Classification("fail", None, 422)),
        (429, Classification("fail", "429", 429)),
        (500, Classification("info", "5xx", 500)),
        (503, Classification("info", "5xx", 503)),
        (302, Classification("info", None, 302)),
    ],
)
def test_statuses_classify_into_outcome_and_retry_class(status: int, expected: Classification) -> None:
    assert classify_status(status) == expected


STATUS_OK = {"body_path": "status", "body_equals": "ok"}


@pytest.mark.parametrize(
    ("rule", "status", "body", "expected"),
    [
        (None, 201, {"id": 1}, Classification("ok", None, 201)),
        ({"status": [200]}, 201, {"id": 1}, Classification("fail", None, 201)),
        ({"status": [200, 303]}, 303, None, Classification("ok", None, 303)),
        ({"status": [200]}, 503, None, Classification("info", "5xx", 503)),
        ({"status": [200]}, 409, None, Classification("fail", "409", 409)),
        ({"body_path": "data.id"}, 200, {"data": {"id": "x"}}, Classification("ok", None, 200)),
        ({"body_path": "data.id"}, 200, {"data": {"id": None}}, Classification("fail", None, 200)),
        ({"body_path": "data.id"}, 200, {"data": {}}, Classification("fail", None, 200)),
        ({"body_path": "data.id"}, 200, None, Classification("fail", None, 200)),
        (STATUS_OK, 200, {"status": "ok"}, Classification("ok", None, 200)),
        (STATUS_OK, 200, {"status": "error"}, Classification("fail", None, 200)),
        ({"body_path": "done", "body_equals": True}, 200, {"done": 1}, Classification("fail", None, 200)),
        ({"body_path": "data.id"}, 500, {"data": {"id": "x"}}, Classification("info", "5xx", 500)),
    ],
)
def test_a_declared_success_rule_decides_what_counts_as_done(
    rule: dict[str, object] | None, status: int, body: object, expected: Classification
) -> None:
    success = None if rule is None else SuccessSpec.model_validate(rule)
    assert classify_answer(status, body, success) == expected


def test_failures_without_an_answer_classify_as_unknown_except_a_refusal() -> None:
    assert classify_failure("timeout") == Classification("info", "timeout")
    assert classify_failure("connection_error") == Classification("info", "connection_error")
    assert classify_failure("connection_refused") == Classification("fail", "connection_error")


def test_retry_only_listed_classes_and_only_while_attempts_remain() -> None:
    default = policy()  # retry_on: timeout, connection_error, 5xx, 409
    assert should_retry(default, 1, classify_status(503))
    assert should_retry(default, 3, classify_failure("timeout"))
    assert not should_retry(default, 4, classify_failure("timeout"))
    assert should_retry(default, 1, classify_status(409))
    assert not should_retry(default, 1, classify_status(429))
    assert not should_retry(default, 1, classify_status(422))
    assert not should_retry(default, 1, classify_status(201))
    assert should_retry(policy(retry_on=("429",)), 1, classify_status(429))
    assert not should_retry(policy(retry_on=("429",)), 1, classify_status(503))
    assert not should_retry(policy(max_attempts=1), 1, classify_status(503))


def test_final_outcome_of_an_operation() -> None:
    default = policy()
    assert final_outcome(default, classify_status(201)) == "acknowledged"
    assert final_outcome(default, classify_status(422)) == "rejected"
    assert final_outcome(default, classify_status(429)) == "rejected"  # 429 is not in retry_on here
    assert final_outcome(default, classify_status(409)) == "unknown"  # retried until attempts ran out
    assert final_outcome(policy(retry_on=("timeout",)), classify_status(409)) == "rejected"
    assert final_outcome(default, classify_status(503)) == "unknown"
    assert final_outcome(default, classify_failure("timeout")) == "unknown"
    assert final_outcome(default, classify_failure("connection_refused")) == "unknown"
    assert final_outcome(default, None) == "unknown"


def test_backoff_cap_doubles_from_the_base_up_to_the_max() -> None:
    capped = policy(backoff_base_s=0.1, backoff_max_s=1.0)
    assert [backoff_cap_s(capped, n) for n in range(1, 7)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff_cap_s(capped, 10_000) == 1.0
    assert backoff_cap_s(policy(backoff_base_s=0.0), 5) == 0.0
    with pytest.raises(ValueError, match="start at 1"):
        backoff_cap_s(capped, 0)


def test_without_jitter_the_wait_is_the_cap_and_draws_nothing() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    plain = policy(jitter="none")
    assert [backoff_s(plain, n, rng) for n in (1, 2, 3)] == pytest.approx([0.1, 0.2, 0.4])
    assert rng.getstate() == state


@given(attempt=st.integers(1, 100), seed=st.integers(0, 2**32), base=st.floats(0, 5), top=st.floats(0, 10))
def test_full_jitter_stays_within_zero_and_the_cap(attempt: int, seed: int, base: float, top: float) -> None:
    jittered = policy(backoff_base_s=base, backoff_max_s=top, jitter="full")
    delay = backoff_s(jittered, attempt, random.Random(seed))
    assert 0.0 <= delay <= backoff_cap_s(jittered, attempt) <= top


def test_full_jitter_is_repeatable_from_a_seed_and_spreads_over_the_range() -> None:
    jittered = policy(backoff_base_s=1.0, backoff_max_s=1.0)
    first = [backoff_s(jittered, 1, random.Random(42)) for _ in range(3)]
    assert first[0] == first[1] == first[2]
    rng = random.Random(42)
    delays = [backoff_s(jittered, 1, rng) for _ in range(2000)]
    assert delays[0] == first[0]
    assert min(delays) < 0.05 and max(delays) > 0.95  # spread over [0, cap], not bunched at the cap
    assert 0.45 < sum(delays) / len(delays) < 0.55


def test_of_two_simultaneous_answers_a_2xx_wins_then_a_retryable_then_an_unknown() -> None:
    default = policy()
    ranked = [
        classify_status(201),
        classify_status(409),  # retryable by default
        classify_failure("timeout"),
        classify_status(302),  # unknown, not retryable
        classify_status(400),  # a final rejection
    ]
    assert [preference(default, answer) for answer in ranked] == [0, 1, 1, 2, 3]
    only_timeouts = policy(retry_on=["timeout"])
    assert preference(only_timeouts, classify_status(409)) == 3
    assert preference(only_timeouts, classify_status(503)) == 2


@given(attempt=st.integers(1, 100), seed=st.integers(0, 2**32))
def test_after_a_refused_connection_the_wait_is_at_least_half_the_cap(attempt: int, seed: int) -> None:
    jittered = policy(backoff_base_s=0.1, backoff_max_s=2.0, jitter="full")
    cap = backoff_cap_s(jittered, attempt)
    assert cap / 2 <= backoff_s(jittered, attempt, random.Random(seed), refused=True) <= cap


def test_only_a_refused_connection_counts_as_refused() -> None:
    assert classify_failure("connection_refused").refused
    assert not classify_failure("connection_error").refused and not classify_failure("timeout").refused
    assert not classify_status(409).refused and not classify_status(503).refused


def test_ten_attempts_outlast_a_restart_of_several_seconds_whatever_the_draws() -> None:
    """The budget of tests/e2e/small_payments.yaml: refused at every retry, it still waits over 5 s."""
    small = policy(max_attempts=10, backoff_base_s=0.1, backoff_max_s=2.0, jitter="full")
    floor = sum(backoff_cap_s(small, attempt) / 2 for attempt in range(1, 10))
    assert floor == pytest.approx(5.55)
    rng = random.Random(0)
    for _ in range(200):
        assert sum(backoff_s(small, attempt, rng, refused=True) for attempt in range(1, 10)) >= floor
