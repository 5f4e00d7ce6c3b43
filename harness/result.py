"""The result of one run: what the report writers and the gate's exit status are made from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.verdict import RunVerdict

RUN_SCHEMA_VERSION = 2
"""2: a cell's numbers live in its checkers' results (``checks``), as the checker modules declare them.
Each cell's ``tallies`` (:mod:`harness.tally`) came later within 2: a field added, none changed, so a
run.json written before them is read as before (the baseline reads the checks alone)."""


def require_run_schema(document: Mapping[str, Any], where: object) -> None:
    """HarnessError naming ``where`` unless ``document`` is a run.json of the version this harness reads."""
    version = document.get("schema_version")
    if version != RUN_SCHEMA_VERSION:
        raise HarnessError(
            f"{where}: run.json schema_version {version!r} is not supported "
            f"(this harness reads version {RUN_SCHEMA_VERSION})"
        )


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
    interrupted: bool = False
    """Ctrl-C or SIGTERM stopped the run: the cells it did not finish are ``interrupted``."""

    @property
    def passed(self) -> bool:
        """Every gate held in a run that finished: an interrupted run never passes."""
        return not self.interrupted and all(gate.passed for gate in self.gates)

    @property
    def outcome(self) -> str:
        """The run's one word for a reader: ``PASS``, ``FAIL`` or ``INTERRUPTED``."""
        if self.interrupted:
            return "INTERRUPTED"
        return "PASS" if self.passed else "FAIL"
