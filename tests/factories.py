"""Hand-made model objects and stand-ins for tests: write down only what a test is about."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from harness.checkers import Checker, checkers
from harness.load.config import LoadCellConfig
from harness.result import GateResult, RunResult
from harness.scenario import LoadSpec, RetryPolicySpec
from harness.stats import wilson_interval
from harness.verdict import Anomaly, CellVerdict, CheckResult, Interval, RunVerdict, merge_validity

ZERO_CELL = CellVerdict.empty("", "")
"""Nothing counted and no checker run."""

LOCAL_ANSWER_BOUND_S = 10.0
"""An attempt's timeout in test loads: a local server that answers at all answers well within it."""

_CELL_FIELDS = frozenset(field.name for field in dataclasses.fields(CellVerdict))


def cell_verdict(variant: str, fault: str, **fields: Any) -> CellVerdict:
    """A cell of ``variant`` × ``fault`` with ``fields`` set and every other count zero.

    ``fields`` may name the cell's own fields, ``anomalies``, and any registered checker's numbers
    (``ops_with_duplicates=5``) or intervals (``duplicate_rate_interval=...``): each checker gets a
    result holding its numbers (zero unless given; a rate follows its numerator over ``operations``
    unless given, its interval is the Wilson one unless given) and the anomalies of its kind.
    """
    given = dict(fields)
    anomalies = tuple(given.pop("anomalies", ()))
    common = {name: given.pop(name) for name in list(given) if name in _CELL_FIELDS}
    operations = int(common.get("operations", 0))
    checks = [_check_result(checker, operations, given, anomalies) for checker in checkers()]
    if given:
        raise TypeError(f"cell_verdict: no cell field or checker number {', '.join(given)}")
    validity = common.pop("validity", merge_validity(check.validity for check in checks))
    return dataclasses.replace(
        ZERO_CELL, variant=variant, fault=fault, checks=tuple(checks), validity=validity, **common
    )


def _check_result(
    checker: Checker, operations: int, given: dict[str, Any], anomalies: tuple[Anomaly, ...]
) -> CheckResult:
    explicit = {metric.name for metric in checker.metrics if metric.name in given}
    numbers: dict[str, float] = {metric.name: given.pop(metric.name, 0) for metric in checker.metrics}
    intervals: dict[str, Interval] = {}
    for metric in checker.metrics:
        if metric.numerator is None:
            continue
        if metric.name not in explicit:
            numbers[metric.name] = numbers[metric.numerator] / operations if operations else 0.0
        if metric.interval:
            default = wilson_interval(int(numbers[metric.numerator]), operations)
            intervals[metric.name] = given.pop(f"{metric.name}_interval", default)
    kind = checker.anomaly.kind if checker.anomaly is not None else None
    counts = [numbers[metric.name] for metric in checker.metrics if metric.unit == "count"]
    return CheckResult(
        checker=checker.name,
        validity="invalid" if checker.anomaly is not None and any(counts) else "valid",
        numbers=numbers,
        intervals=intervals,
        anomalies=tuple(anomaly for anomaly in anomalies if anomaly.kind == kind),
    )


def run_result(verdict: RunVerdict, gates: tuple[GateResult, ...], out_dir: Path, **fields: Any) -> RunResult:
    """A finished run of ``verdict`` with ``gates``, writing into ``out_dir``; ``fields`` replace the
    plain defaults (scenario ``s``, seed 1, one second long, started at the epoch)."""
    values: dict[str, Any] = {
        "run_id": "r",
        "scenario_name": "s",
        "scenario_path": "s.yaml",
        "description": "",
        "seed": 1,
        "runtime": "process",
        "proxy": "embedded",
        "started_at": 0.0,
        "duration_s": 1.0,
    }
    return RunResult(**{**values, **fields}, verdict=verdict, gates=gates, out_dir=out_dir)


class SimulatedCrash(Exception):
    """Stands in for os._exit in unit tests: raised at a failpoint, it abandons the request there."""


def simulated_crash() -> None:
    """A ``Failpoints(crash=...)`` hook that raises :class:`SimulatedCrash` instead of ending the process."""
    raise SimulatedCrash


def both_at_once() -> Callable[[], None]:
    """Work that returns only once two requests are inside it: both have read (or passed any check)
    before either writes."""
    barrier = threading.Barrier(2, timeout=10)  # breaks, failing the test, unless both arrive

    def work() -> None:
        barrier.wait()

    return work


async def effects_of(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """A target's ``GET /effects``, which must answer 200."""
    response = await client.get("/effects")
    assert response.status_code == 200
    effects: list[dict[str, Any]] = response.json()
    return effects


def load_cell(base_url: str, tmp_path: Path, op_id_prefix: str, **changes: Any) -> LoadCellConfig:
    """A small, quick load cell (naive, fault ``drop``) writing its history under ``tmp_path``.

    ``changes`` replace any field, of the cell or of its ``load`` (``operations=4``, ``retry=...``);
    the retry policy backs off briefly so a test's faults show at once, and its timeout is far longer
    than a local answer takes on a busy machine: only a server that hangs makes an attempt time out.
    """
    load: dict[str, Any] = {
        "operations": 30,
        "users": 4,
        "spawn_rate": 100.0,
        "max_duration_s": 20.0,
        "retry": RetryPolicySpec(
            max_attempts=3, timeout_s=LOCAL_ANSWER_BOUND_S, backoff_base_s=0.01, backoff_max_s=0.05
        ),
        "amount_min": 100,
        "amount_max": 200,
    }
    cell: dict[str, Any] = {
        "base_url": base_url,
        "variant": "naive",
        "fault": "drop",
        "seed": 11,
        "history_path": str(tmp_path / "history.jsonl"),
        "op_id_prefix": op_id_prefix,
    }
    for name, value in changes.items():
        (load if name in LoadSpec.model_fields else cell)[name] = value
    return LoadCellConfig.model_validate({**cell, "load": LoadSpec.model_validate(load)})
