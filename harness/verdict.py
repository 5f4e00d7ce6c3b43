"""What the checkers conclude about one run cell (one variant under one fault).

Plain frozen dataclasses: the checkers produce them, the gate and every report writer read them.
``validity`` follows Jepsen: ``invalid`` beats ``unknown`` beats ``valid`` (:func:`merge_validity`), and a
checker that raises yields ``unknown`` rather than crashing the run.

A cell holds what every checker shares (operations, attempts, client outcomes, faults seen) plus one
:class:`CheckResult` per checker module (:mod:`harness.checkers`), whose named numbers are what gates,
baselines and reports read. ``cell.number("duplicate_rate")`` reads one of them; for the convenience of
tests written against a cell (``run.cell("naive", "crash").duplicate_rate``) a checker's numbers and
intervals are attributes too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from harness.history import AttemptEnd, CrashEvent, FaultEvent, RestartEvent
from harness.tally import CellTally

Validity = Literal["valid", "invalid", "unknown"]
CellState = Literal["valid", "invalid", "unknown", "interrupted"]
INTERRUPTED_REASON = "interrupted: the run stopped before this cell finished"
AnomalyKind = str
"""An anomaly kind declared by a checker module (``duplicate_effect``, ``lost_acknowledged``, ...)."""

_VALIDITY_RANK: dict[Validity, int] = {"valid": 0, "unknown": 1, "invalid": 2}


def merge_validity(validities: Iterable[Validity]) -> Validity:
    """Jepsen's ``merge-valid``: invalid beats unknown beats valid; nothing to merge is valid."""
    return max(validities, key=_VALIDITY_RANK.__getitem__, default="valid")


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval for a proportion."""

    low: float
    high: float


FaultLike = FaultEvent | CrashEvent | RestartEvent


@dataclass(frozen=True)
class Anomaly:
    """One operation that went wrong, with the evidence a reader needs to see why."""

    kind: AnomalyKind
    op_id: str
    effect_count: int
    resource_ids: tuple[str, ...]
    attempts: tuple[AttemptEnd, ...]
    nearby_faults: tuple[FaultLike, ...] = ()
    explanation: str = ""


@dataclass(frozen=True)
class CheckResult:
    """What one checker module found in one cell.

    ``numbers`` holds the checker's declared metrics by name (counts as ints, rates as floats);
    ``intervals`` the 95% interval of each rate that has one. The counts are exact, although
    ``anomalies`` keeps only the first few hundred flagged operations as examples.
    """

    checker: str
    validity: Validity
    numbers: Mapping[str, float] = field(default_factory=dict)
    intervals: Mapping[str, Interval] = field(default_factory=dict)
    anomalies: tuple[Anomaly, ...] = ()
    details: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    """Counts by part, where a checker has them (exposure: each fault's firings and operations hit)."""
    reason: str | None = None
    """Why the result is ``unknown``: the checker's exception, or the guard that was not met."""


@dataclass(frozen=True)
class StopNote:
    """A cell that stopped before its budget because every gate on it was decided (:mod:`harness.stopping`).

    ``operations``: the operations that had ended when the decision came; ``bounds``: how each gate
    was decided, in words (``duplicate rate 95% upper bound 1.99% < 2% (...)``).
    """

    operations: int
    reason: str
    bounds: tuple[str, ...] = ()


@dataclass(frozen=True)
class CellVerdict:
    """Counts and anomalies for one variant × fault cell."""

    variant: str
    fault: str
    operations: int
    attempts: int
    retries: int
    acknowledged: int
    rejected: int
    unknown: int
    orphan_effects: int
    validity: Validity
    checks: tuple[CheckResult, ...] = ()
    attempt_latencies_s: tuple[float, ...] = ()
    crashes: int = 0
    answers: Mapping[str, int] = field(default_factory=dict)
    """How the attempts ended, most frequent first: ``{"201": 140, "timeout": 20, "500": 3}``."""
    final_outcomes: Mapping[str, int] = field(default_factory=dict)
    """How the operations ended, with their final status: ``{"acknowledged 201": 148, "unknown": 2}``."""
    fault_events: tuple[FaultLike, ...] = ()
    effect_times: tuple[float, ...] = ()
    error: str | None = None
    """Why the cell is ``unknown``: each unknown checker's reason (an exception, an unmet guard)."""
    interrupted: bool = False
    """The run was interrupted before this cell finished: nothing was checked, it is never a pass."""
    duration_s: float = 0.0
    """The cell's wall time, from starting its target to its check (a rebuilt report reads it back from
    the cell's ``wall-time.txt``); 0 for a cell that was never run. JUnit reports it as the time of the
    cell's gates."""
    stop: StopNote | None = None
    """Why the cell's load ended before its budget, when it did (``None``: it ran its whole budget)."""
    tallies: CellTally = field(default_factory=CellTally)
    """The cell's counts as the live metrics serve them (:mod:`harness.tally`), from the same scan."""

    @classmethod
    def empty(cls, variant: str, fault: str) -> CellVerdict:
        """A cell where nothing was counted and no checker ran."""
        return cls(
            variant=variant,
            fault=fault,
            operations=0,
            attempts=0,
            retries=0,
            acknowledged=0,
            rejected=0,
            unknown=0,
            orphan_effects=0,
            validity="valid",
        )

    @classmethod
    def unfinished(cls, variant: str, fault: str) -> CellVerdict:
        """A cell an interrupted run did not finish: ``unknown`` to the gates, ``interrupted`` to a reader."""
        return replace(
            cls.empty(variant, fault), validity="unknown", error=INTERRUPTED_REASON, interrupted=True
        )

    @property
    def state(self) -> CellState:
        """What a report shows: the cell's validity, or ``interrupted`` for a cell the run did not finish."""
        return "interrupted" if self.interrupted else self.validity

    @property
    def inconclusive(self) -> bool:
        """Whether any checker could not judge the cell (a guard unmet, a checker broken). A duplicate
        found by another makes the cell invalid, Jepsen's way, but must not let a gate pass untested."""
        return self.validity == "unknown" or any(check.validity == "unknown" for check in self.checks)

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """Every checker's anomalies, in checker order."""
        return tuple(anomaly for check in self.checks for anomaly in check.anomalies)

    def check(self, checker: str) -> CheckResult | None:
        """The result of the checker named ``checker``, or None when it did not run on this cell."""
        return next((result for result in self.checks if result.checker == checker), None)

    def number(self, name: str) -> float:
        """A checker's number by metric name; NaN when no checker of this cell produced it (unknown)."""
        for result in self.checks:
            if name in result.numbers:
                return result.numbers[name]
        return float("nan")

    def number_unknown(self, name: str) -> bool:
        """Whether the number ``name`` judges nothing: the checker that produced it is ``unknown`` (its
        count covers only what it could read, a 0 there is no pass) or no checker produced it."""
        producer = next((result for result in self.checks if name in result.numbers), None)
        return producer is None or producer.validity == "unknown"

    def interval(self, name: str) -> Interval:
        """A rate's 95% interval by metric name; the whole range when nobody measured it."""
        for result in self.checks:
            if name in result.intervals:
                return result.intervals[name]
        return Interval(0.0, 1.0)

    def __getattr__(self, name: str) -> Any:
        """``cell.duplicate_rate`` for ``cell.number("duplicate_rate")``; ``cell.duplicate_rate_interval``
        for its interval. Only called for names that are not fields."""
        if name.startswith("_"):
            raise AttributeError(name)
        checks: tuple[CheckResult, ...] = self.__dict__.get("checks", ())
        for result in checks:
            if name in result.numbers:
                return result.numbers[name]
            if name.endswith("_interval") and name.removesuffix("_interval") in result.intervals:
                return result.intervals[name.removesuffix("_interval")]
        raise AttributeError(f"{type(self).__name__} has no field or checker number {name!r}")


@dataclass(frozen=True)
class RunVerdict:
    """All cells of one run, in scenario order."""

    cells: tuple[CellVerdict, ...] = field(default_factory=tuple)

    def cell(self, variant: str, fault: str) -> CellVerdict:
        for candidate in self.cells:
            if candidate.variant == variant and candidate.fault == fault:
                return candidate
        raise KeyError(f"no cell {variant} × {fault}")

    def for_variant(self, variant: str) -> tuple[CellVerdict, ...]:
        return tuple(cell for cell in self.cells if cell.variant == variant)
