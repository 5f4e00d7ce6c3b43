"""The ``gates`` block: thresholds a variant's cells must hold for the run to pass."""

from __future__ import annotations

from pydantic import Field

from harness.scenario._base import _Strict


class GateSpec(_Strict):
    """Thresholds for one variant, checked on each of its fault cells (or only those in ``faults``)."""

    faults: tuple[str, ...] = ()
    max_duplicate_rate: float | None = Field(None, ge=0, le=1)
    min_duplicate_rate: float | None = Field(None, ge=0, le=1)
    max_lost_acknowledged: int | None = Field(None, ge=0)
    max_replay_mismatches: int | None = Field(None, ge=0)


def gate_specs(specs: GateSpec | tuple[GateSpec, ...]) -> tuple[GateSpec, ...]:
    """A variant's gates as a tuple, whether the file gave one mapping or a list of them."""
    return specs if isinstance(specs, tuple) else (specs,)
