"""The result of one run: what the report writers and the gate's exit status are made from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.verdict import RunVerdict

RUN_SCHEMA_VERSION = 1


@dataclass(frozen=True)
class GateResult:
    """One threshold of the scenario checked against one cell.

    ``name`` is the gate's field (``max_duplicate_rate``, ``min_duplicate_rate``, ...); a gate on a
    variant is checked on every fault cell of that variant, so it yields one result per cell.
    """

    variant: str
    fault: str
    name: str
    threshold: float
    actual: float
    passed: bool
    message: str


@dataclass(frozen=True)
class RunResult:
    """Everything one run found, plus where its evidence lives."""

    run_id: str
    scenario_name: str
    scenario_path: str
    description: str
    seed: int
    runtime: str
    proxy: str
    started_at: float
    duration_s: float
    verdict: RunVerdict
    gates: tuple[GateResult, ...]
    out_dir: Path
    variants: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(gate.passed for gate in self.gates)
