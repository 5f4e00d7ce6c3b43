"""What the checker concludes about one run cell (one variant under one fault).

Plain frozen dataclasses: the checker produces them, the gate and every report writer read them.
``validity`` follows Jepsen: ``invalid`` beats ``unknown`` beats ``valid``, and a checker that
raises yields ``unknown`` rather than crashing the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.history import AttemptEnd, CrashEvent, FaultEvent, RestartEvent

Validity = Literal["valid", "invalid", "unknown"]
AnomalyKind = Literal["duplicate_effect", "lost_acknowledged", "replay_mismatch"]
ANOMALY_KINDS: tuple[AnomalyKind, ...] = ("duplicate_effect", "lost_acknowledged", "replay_mismatch")
"""Every kind, in the order a cell lists its anomalies (the checker's, and the report's)."""


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval for a proportion."""

    low: float
    high: float


@dataclass(frozen=True)
class Anomaly:
    """One operation that went wrong, with the evidence a reader needs to see why."""

    kind: AnomalyKind
    op_id: str
    effect_count: int
    resource_ids: tuple[str, ...]
    attempts: tuple[AttemptEnd, ...]
    nearby_faults: tuple[FaultEvent | CrashEvent | RestartEvent, ...] = ()
    explanation: str = ""


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
    ops_with_duplicates: int
    duplicate_rate: float
    duplicate_rate_interval: Interval
    extra_effects: int
    extra_effects_per_1000: float
    lost_acknowledged: int
    replay_mismatches: int
    orphan_effects: int
    validity: Validity
    anomalies: tuple[Anomaly, ...] = ()
    attempt_latencies_s: tuple[float, ...] = ()
    crashes: int = 0
    fault_events: tuple[FaultEvent | CrashEvent | RestartEvent, ...] = ()
    effect_times: tuple[float, ...] = ()
    error: str | None = None

    @classmethod
    def empty(cls, variant: str, fault: str) -> CellVerdict:
        """A cell where nothing was counted (no operations: the interval spans everything)."""
        return cls(
            variant=variant,
            fault=fault,
            operations=0,
            attempts=0,
            retries=0,
            acknowledged=0,
            rejected=0,
            unknown=0,
            ops_with_duplicates=0,
            duplicate_rate=0.0,
            duplicate_rate_interval=Interval(0.0, 1.0),
            extra_effects=0,
            extra_effects_per_1000=0.0,
            lost_acknowledged=0,
            replay_mismatches=0,
            orphan_effects=0,
            validity="valid",
        )


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
