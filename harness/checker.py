"""The checker: reconciles what the client saw (the history) with what the target did (its effects).

It composes the checker modules of :mod:`harness.checkers` as Jepsen's ``compose`` does: the history and
effects are scanned once into a :class:`~harness.checkers.CellEvidence`, every registered checker judges
it, and the cell's validity is the merge of theirs (invalid beats unknown beats valid). Everything here
is pure: no I/O, no clock, no randomness, so a verdict can be recomputed from a run's evidence files and
unit-tested on hand-made histories.

A checker that raises gives an ``unknown`` result for itself only (Jepsen's ``check-safe``), and
:func:`check_safe` turns a history that cannot be scanned at all into an ``unknown`` cell: one broken
cell or checker must not lose the evidence of all the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from harness.checkers import Checker, checkers
from harness.checkers.evidence import (
    MAX_ANOMALIES_PER_KIND,
    CellEvidence,
    CellExpectations,
    collection_paused,
)
from harness.history import Event, OpOutcome
from harness.ledger import Effect
from harness.records import FaultSideEvent, HistoryRecords, OutOfOrder, read_records, with_live
from harness.resource_states import ResourceState
from harness.saga_evidence import SagaEvidence
from harness.tally import OPERATION_OUTCOMES, CellTally, by_kind
from harness.verdict import CellVerdict, CheckResult, merge_validity

__all__ = [
    "MAX_ANOMALIES_PER_KIND",
    "CellExpectations",
    "check",
    "check_safe",
    "judge",
    "safely",
    "scan_files",
    "unknown_cell",
]


def check(
    events: Sequence[Event] | HistoryRecords,
    effects: Sequence[Effect],
    *,
    variant: str,
    fault: str,
    context_s: float = 1.0,
    expect: CellExpectations | None = None,
    using: Sequence[Checker] | None = None,
    states: Iterable[ResourceState] | None = None,
    saga: SagaEvidence | None = None,
) -> CellVerdict:
    """Reconcile one cell's history with its effects into a verdict.

    ``events`` must be sorted by time (as :func:`harness.history.read_history` returns them), or be
    the records :func:`harness.records.read_records` streams; ``context_s`` widens the window of
    fault events kept with each anomaly on both sides; ``expect`` says what the fault was meant to
    do, for the guards (none without it); ``using`` picks the checkers (default: every registered one);
    ``states`` are the resources read after the load, for the method checkers (None: none read);
    ``saga`` the sagas and ledgers read after it, for the saga checkers (None: none read).
    """
    evidence = CellEvidence.scan(events, effects, context_s, expect, states, saga)
    return judge(evidence, variant=variant, fault=fault, using=using)


def scan_files(
    paths: Sequence[Path],
    effects: Iterable[Effect],
    context_s: float = 1.0,
    expect: CellExpectations | None = None,
    live: Sequence[FaultSideEvent] = (),
    states: Sequence[ResourceState] | None = None,
    saga: SagaEvidence | None = None,
) -> CellEvidence:
    """A cell's evidence straight from its history files (merged by time; absent ones skipped),
    streamed: no list of events is ever held. A file out of time order is read whole and sorted.

    ``effects`` is iterated after the history is read, so a lazy probe sees every acknowledgement the
    history holds; ``live`` adds fault-side events no file holds yet (a running cell's toxic hits);
    ``states`` are the resources read after the load, ``saga`` the sagas (None: none read)."""
    try:
        history = with_live(read_records(paths), live)
        return CellEvidence.scan(history, effects, context_s, expect, states, saga)
    except OutOfOrder:
        history = with_live(read_records(paths, sort_all=True), live)
        return CellEvidence.scan(history, effects, context_s, expect, states, saga)


def judge(
    evidence: CellEvidence, *, variant: str, fault: str, using: Sequence[Checker] | None = None
) -> CellVerdict:
    """Every checker's judgement of one cell's scanned evidence, merged into its verdict."""
    with collection_paused():
        return _judge(evidence, variant, fault, using)


def _judge(evidence: CellEvidence, variant: str, fault: str, using: Sequence[Checker] | None) -> CellVerdict:
    results = tuple(_check_one(checker, evidence) for checker in (checkers() if using is None else using))
    outcomes = evidence.outcome_counts()
    reasons = [result.reason for result in results if result.validity == "unknown" and result.reason]
    return CellVerdict(
        variant=variant,
        fault=fault,
        operations=evidence.operations,
        attempts=evidence.attempts,
        retries=evidence.retries,
        acknowledged=outcomes["acknowledged"],
        rejected=outcomes["rejected"],
        unknown=outcomes["unknown"],
        orphan_effects=evidence.orphan_effects,
        validity=merge_validity(result.validity for result in results),
        checks=results,
        attempt_latencies_s=tuple(evidence.latencies),
        crashes=evidence.crashes,
        answers=evidence.answer_counts(),
        final_outcomes=evidence.final_outcome_counts(),
        fault_events=evidence.fault_events,
        effect_times=evidence.effect_times,
        error="; ".join(reasons) or None,
        tallies=_tally(evidence, outcomes, results),
    )


def _tally(
    evidence: CellEvidence, outcomes: Mapping[OpOutcome, int], results: Sequence[CheckResult]
) -> CellTally:
    """The cell's counts for the live metrics, from the scan and the checkers' numbers just made."""
    numbers: dict[str, float] = {}
    for result in results:
        numbers.update(result.numbers)

    def count(name: str) -> int:
        value = numbers.get(name, 0)
        return int(value) if value == value else 0  # NaN: the checker could not count it

    finished = dict(outcomes)
    finished["unknown"] -= evidence.unfinished
    return CellTally(
        operations={OPERATION_OUTCOMES[outcome]: number for outcome, number in finished.items()},
        unfinished=evidence.unfinished,
        attempts=by_kind(evidence.answer_counts()),
        retries=by_kind(evidence.retry_causes()),
        duplicate_effects=count("extra_effects"),
        duplicated_operations=count("ops_with_duplicates"),
        exposed_operations=count("exposed_ops"),
        crashes=evidence.crashes,
    )


def _check_one(checker: Checker, evidence: CellEvidence) -> CheckResult:
    try:
        return checker.check(evidence)
    except Exception as error:  # one broken checker makes its own result unknown, nothing more
        reason = f"the {checker.name} checker failed: {type(error).__name__}: {error}"
        return CheckResult(checker=checker.name, validity="unknown", reason=reason)


def check_safe(
    events: Sequence[Event] | HistoryRecords,
    effects: Sequence[Effect],
    *,
    variant: str,
    fault: str,
    context_s: float = 1.0,
    expect: CellExpectations | None = None,
) -> CellVerdict:
    """:func:`check`, but a history or effects it cannot make sense of give an ``unknown`` cell naming
    the error, instead of an exception (Jepsen's ``check-safe``)."""
    return safely(
        variant,
        fault,
        lambda: check(events, effects, variant=variant, fault=fault, context_s=context_s, expect=expect),
    )


def safely(variant: str, fault: str, make: Callable[[], CellVerdict]) -> CellVerdict:
    """``make()``, or an ``unknown`` cell naming the exception it raised."""
    try:
        return make()
    except Exception as error:  # turning every failure into "unknown" is the point
        return unknown_cell(variant, fault, error)


def unknown_cell(variant: str, fault: str, error: Exception) -> CellVerdict:
    """A cell nothing could be counted in, ``unknown`` because of ``error``."""
    return dataclasses.replace(
        CellVerdict.empty(variant, fault), validity="unknown", error=f"{type(error).__name__}: {error}"
    )
