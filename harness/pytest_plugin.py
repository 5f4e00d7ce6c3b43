"""The harness as a pytest plugin: chaos-test idempotency from an ordinary test suite.

Registered through the ``pytest11`` entry point, so installing the package is enough. Three fixtures,
each cleaning up after its test, with every file under the test's ``tmp_path``::

    def test_charges_are_idempotent(chaos_run):
        run = chaos_run("scenarios/payments.yaml", operations=50, faults=("dropped-responses",))
        assert run.variant("idempotent").duplicate_rate == 0

    def test_through_the_proxy(fault_proxy, target):
        payments = target("payments", "idempotent")             # a reference target, process runtime
        proxy = fault_proxy.create_proxy("payments", upstream=payments.endpoint.hostport)

When such an assertion fails, pytest shows the duplicated (or lost) operations with their attempts and
the report's path, not just ``assert 0.13 == 0``: the numbers a variant returns carry their evidence
(:class:`EvidenceRate`, :class:`AnomalyCount`) and :func:`pytest_assertrepr_compare` tells it, one
line per operation. pytest shortens long explanations outside CI: ``-vv`` (or the ``CI`` variable, or
the ``truncation_limit_lines`` / ``truncation_limit_chars`` ini options) shows every line.

Imports of the run machinery are deferred to the fixtures: pytest loads this module in every session
of an environment that has the harness installed, and it must cost next to nothing there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from harness.verdict import Anomaly, CellVerdict

if TYPE_CHECKING:
    from harness.proxy.client import ProxyClient
    from harness.result import GateResult, RunResult
    from harness.runtime.process import ProcessTarget

STORIES_SHOWN = 10
"""Operations told in an assertion message; the report has the rest."""


class EvidenceRate(float):
    """A variant's rate (a plain float in comparisons) that remembers the operations behind it."""

    outcome: VariantOutcome
    kind: str | None

    def __new__(cls, value: float, outcome: VariantOutcome, kind: str | None) -> EvidenceRate:
        made = super().__new__(cls, value)
        made.outcome = outcome
        made.kind = kind
        return made


class AnomalyCount(int):
    """A count of anomalous operations (a plain int in comparisons) that remembers its evidence."""

    outcome: VariantOutcome
    kind: str | None

    def __new__(cls, value: int, outcome: VariantOutcome, kind: str | None) -> AnomalyCount:
        made = super().__new__(cls, value)
        made.outcome = outcome
        made.kind = kind
        return made


@dataclass(frozen=True)
class VariantOutcome:
    """One variant's numbers over all the faults it ran under.

    Every number a checker module declares is an attribute: ``outcome.duplicate_rate`` (a rate: over
    all operations of all its cells), ``outcome.lost_acknowledged`` (a count: summed over its cells).
    """

    variant: str
    cells: tuple[CellVerdict, ...]
    report: Path

    @property
    def operations(self) -> int:
        return sum(cell.operations for cell in self.cells)

    def __getattr__(self, name: str) -> EvidenceRate | AnomalyCount:
        from harness.checkers.registry import metric

        declared = metric(name) if not name.startswith("_") else None
        if declared is None:
            raise AttributeError(f"{type(self).__name__} has no attribute or checker number {name!r}")
        if declared.unit == "count":
            total = sum(cell.number(name) for cell in self.cells)
            return AnomalyCount(int(total), self, declared.anomaly_kind)
        operations = self.operations
        if not operations:
            return EvidenceRate(float("nan"), self, declared.anomaly_kind)
        if declared.numerator is not None:  # a rate: its numerator over all operations
            value = sum(cell.number(declared.numerator) for cell in self.cells) / operations
        else:  # any other number: its mean over the operations
            value = sum(cell.number(name) * cell.operations for cell in self.cells) / operations
        return EvidenceRate(value, self, declared.anomaly_kind)

    def anomalies(self, kind: str) -> list[tuple[str, Anomaly]]:
        """(fault, anomaly) pairs of one kind, in cell order."""
        return [(cell.fault, a) for cell in self.cells for a in cell.anomalies if a.kind == kind]


@dataclass(frozen=True)
class ChaosRun:
    """A finished run of a scenario, with its reports under the test's ``tmp_path``."""

    result: RunResult
    report: Path

    def variant(self, name: str) -> VariantOutcome:
        cells = self.result.verdict.for_variant(name)
        if not cells:
            variants = sorted({cell.variant for cell in self.result.verdict.cells})
            raise KeyError(f"no variant {name!r} in this run (variants: {', '.join(variants)})")
        return VariantOutcome(name, cells, self.report)

    def cell(self, variant: str, fault: str) -> CellVerdict:
        return self.result.verdict.cell(variant, fault)

    @property
    def gates(self) -> tuple[GateResult, ...]:
        return self.result.gates

    @property
    def passed(self) -> bool:
        """Whether every gate of the scenario held."""
        return self.result.passed


ChaosRunner = Callable[..., ChaosRun]
TargetFactory = Callable[..., "ProcessTarget"]

def evidence_lines(outcome: VariantOutcome, kind: str) -> list[str]:
    """The operations behind a number, each with its attempts: what an assertion failure shows."""
    from harness.checkers.registry import anomaly_declaration
    from harness.report.formatting import anomaly_story

    found = outcome.anomalies(kind)
    words = anomaly_declaration(kind).words
    lines = [f"{outcome.variant}: {len(found)} of {outcome.operations} operations {words}"]
    for fault, anomaly in found[:STORIES_SHOWN]:
        lines.append(f"  {fault}: {anomaly.op_id} ({anomaly.effect_count} effects): {anomaly_story(anomaly)}")
    if len(found) > STORIES_SHOWN:
        lines.append(f"  ... and {len(found) - STORIES_SHOWN} more")
    lines.append(f"report: {outcome.report}")
    return lines


def pytest_assertrepr_compare(
    config: pytest.Config, op: str, left: object, right: object
) -> list[str] | None:
    """Explain a failed comparison of a variant's rate or count with the operations behind it."""
    for side in (left, right):
        if isinstance(side, EvidenceRate | AnomalyCount) and side.kind is not None:
            return [f"{left!r} {op} {right!r}", *evidence_lines(side.outcome, side.kind)]
    return None


def _scenario_path(scenario: str | Path, rootpath: Path) -> Path:
    """A relative scenario path, tried from the working directory, pytest's root, then the harness's."""
    from harness.paths import REPO_ROOT, find_file

    return find_file(Path(scenario), rootpath, REPO_ROOT)  # not found: load_scenario names it


@pytest.fixture
def chaos_run(tmp_path: Path, request: pytest.FixtureRequest) -> ChaosRunner:
    """``chaos_run(scenario, operations=None, faults=(), seed=None, fixed=False)`` runs a scenario, returns
    a ChaosRun; ``fixed`` runs every cell's whole budget (``harness run --fixed``)."""

    def run(
        scenario: str | Path,
        operations: int | None = None,
        faults: Iterable[str] | str = (),
        seed: int | None = None,
        fixed: bool = False,
    ) -> ChaosRun:
        from harness.listeners import subscribe_listeners
        from harness.report import report_paths
        from harness.run import Run, RunOptions
        from harness.scenario import load_scenario

        path = _scenario_path(scenario, request.config.rootpath)
        chosen = (faults,) if isinstance(faults, str) else tuple(faults)
        options = RunOptions(
            out_root=tmp_path / "chaos-runs", seed=seed, operations=operations, faults=chosen, fixed=fixed
        )
        chaos = Run(scenario=load_scenario(path), scenario_path=str(path), options=options)
        subscribe_listeners(chaos.events, summary_md=False)  # the report files
        result = chaos.run()
        for failure in chaos.events.failures:  # the test still gets the result to assert on
            warnings.warn(f"chaos_run: a listener failed: {failure}", pytest.PytestWarning, stacklevel=2)
        return ChaosRun(result, report_paths(result.out_dir)["html"])

    return run


@pytest.fixture
def fault_proxy(tmp_path: Path) -> Iterator[ProxyClient]:
    """A client of an embedded fault proxy (Toxiproxy's API) started for this test and ended after."""
    from harness.proxy.client import ProxyClient
    from harness.proxy.embedded import EmbeddedProxy

    with EmbeddedProxy.start(tmp_path / "fault-proxy.log") as proxy, ProxyClient(proxy.url) as client:
        yield client


@pytest.fixture
def target(tmp_path: Path) -> Iterator[TargetFactory]:
    """``target(name, variant, env=None)`` starts a reference target as a process; all stop after."""
    from harness.runtime.process import ProcessRuntime

    runtime = ProcessRuntime()
    started: list[ProcessTarget] = []

    def start(name: str, variant: str, env: dict[str, str] | None = None) -> ProcessTarget:
        folder = tmp_path / "targets" / f"{name}-{variant}-{len(started) + 1}"
        instance = runtime.start(
            name, variant, data_dir=folder / "data", log_path=folder / "target.log", env=dict(env or {})
        )
        started.append(instance)
        return instance

    try:
        yield start
    finally:
        for instance in reversed(started):
            instance.stop()
