"""Failpoints: parsing of HARNESS_FAILPOINTS and seeded, repeatable crash decisions."""

from __future__ import annotations

import pytest
from factories import SimulatedCrash, simulated_crash

from targets.targetkit.failpoints import (
    AFTER_COMMIT_BEFORE_RESPONSE,
    BEFORE_COMMIT,
    Failpoints,
    decide,
    parse_failpoints,
)


def _fired_hits(failpoints: Failpoints, name: str, hits: int) -> list[int]:
    fired = []
    for hit_number in range(hits):
        try:
            failpoints.hit(name)
        except SimulatedCrash:
            fired.append(hit_number)
    return fired


def test_parse_reads_names_and_probabilities() -> None:
    spec = " after_commit_before_response=0.1, before_commit=1 ,"
    assert parse_failpoints(spec) == {AFTER_COMMIT_BEFORE_RESPONSE: 0.1, BEFORE_COMMIT: 1.0}
    assert parse_failpoints("") == {}


@pytest.mark.parametrize(("spec", "message"), [
    ("after_commit=0.1", "failpoint 'after_commit' is unknown"),
    ("before_commit", "expected name=probability"),
    ("before_commit=often", "'often' is not a number"),
    ("before_commit=1.5", "outside [0, 1]"),
])
def test_parse_rejects_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_failpoints(spec)


def test_decisions_repeat_for_the_same_seed_and_incarnation() -> None:
    first = [decide(7, 0, BEFORE_COMMIT, n, 0.3) for n in range(500)]
    again = [decide(7, 0, BEFORE_COMMIT, n, 0.3) for n in range(500)]
    other_seed = [decide(8, 0, BEFORE_COMMIT, n, 0.3) for n in range(500)]
    restarted = [decide(7, 1, BEFORE_COMMIT, n, 0.3) for n in range(500)]
    assert first == again
    assert first != other_seed
    assert first != restarted
    assert 100 <= sum(first) <= 200  # 150 expected; a broken hash would land far outside


def test_probability_zero_never_fires_and_one_always_fires() -> None:
    assert not any(decide(3, 0, BEFORE_COMMIT, n, 0.0) for n in range(100))
    assert all(decide(3, 0, BEFORE_COMMIT, n, 1.0) for n in range(100))


def test_failpoints_fire_on_the_same_hits_for_the_same_seed() -> None:
    def fresh() -> Failpoints:
        return Failpoints({BEFORE_COMMIT: 0.25}, seed=42, incarnation=3, crash=simulated_crash)

    expected = [n for n in range(200) if decide(42, 3, BEFORE_COMMIT, n, 0.25)]
    assert _fired_hits(fresh(), BEFORE_COMMIT, 200) == expected
    assert _fired_hits(fresh(), BEFORE_COMMIT, 200) == expected
    assert expected  # the seed must make at least one crash, or the test proves nothing


def test_hits_of_one_failpoint_do_not_shift_another() -> None:
    interleaved = Failpoints({BEFORE_COMMIT: 0.5, AFTER_COMMIT_BEFORE_RESPONSE: 0.5}, seed=1,
                             crash=lambda: None)
    fired_before_commit = []
    for hit_number in range(100):
        interleaved.hit(AFTER_COMMIT_BEFORE_RESPONSE)
        if interleaved.hit(BEFORE_COMMIT):
            fired_before_commit.append(hit_number)
    assert fired_before_commit == [n for n in range(100) if decide(1, 0, BEFORE_COMMIT, n, 0.5)]


def test_unconfigured_failpoint_never_fires() -> None:
    failpoints = Failpoints({}, crash=simulated_crash)
    assert failpoints.hit(BEFORE_COMMIT) is False
