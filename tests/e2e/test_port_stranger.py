"""A stranger on the port picked for a cell's target does not get judged in its place.

Seen on CI: in one run of the methods scenario, broken-put-appends and broken-delete-500 showed no
wrong PUT and no failing DELETE, as a correct variant would. Reproduced by handing a cell's target a
port an idempotent orders target (another test's, another run's) already serves: the broken target
failed to bind, the stranger answered its health check, and every request of the cell went to the
stranger. Now the start sees whose socket answered, gives that port up and takes another.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from waiting import wait_until

import harness.runtime.base
from harness.cell import cell_dir
from harness.paths import REPO_ROOT
from harness.ports import free_port
from harness.processes import end_process
from harness.run import RunOptions, run_scenario
from harness.runtime.health import is_healthy
from harness.scenario import load_scenario
from tests.e2e.test_catalogue_scenarios import METHODS_SCENARIO, OPERATIONS, with_toxics_boosted

VARIANT = "broken-put-appends"
_Started = TypeVar("_Started")


@pytest.fixture
def idempotent_stranger(tmp_path: Path) -> Iterator[int]:
    """A correct orders target on a loopback port, started outside the harness: its port."""
    port = free_port()
    command = [sys.executable, "-P", "-m", "targets.orders.app", "--host", "127.0.0.1", "--port", str(port),
               "--variant", "idempotent", "--db", str(tmp_path / "stranger.db")]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until(lambda: is_healthy(f"http://127.0.0.1:{port}/health"), "the stranger to answer", 60)
        yield port
    finally:
        end_process(process)


def test_a_broken_target_is_judged_on_its_own_port(
    tmp_path: Path, idempotent_stranger: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_on_free_port = harness.runtime.base.on_free_port
    handed: list[int] = []

    def stranger_first(start: Callable[[int], _Started], *, port: int | None = None) -> _Started:
        def start_on(chosen: int) -> _Started:
            handed.append(idempotent_stranger if not handed else chosen)
            return start(handed[-1])

        return real_on_free_port(start_on, port=port)

    monkeypatch.setattr(harness.runtime.base, "on_free_port", stranger_first)
    scenario = load_scenario(METHODS_SCENARIO)
    scenario = with_toxics_boosted(
        scenario.model_copy(
            update={
                "target": scenario.target.model_copy(update={"variants": (VARIANT,)}),
                "gates": {VARIANT: scenario.gates[VARIANT]},
            }
        )
    )
    options = RunOptions(
        out_root=tmp_path / "reports", operations=OPERATIONS, faults=("dropped-responses",), fixed=True
    )
    result = run_scenario(scenario, str(METHODS_SCENARIO), options)

    assert handed[0] == idempotent_stranger and idempotent_stranger not in handed[1:]
    (cell,) = result.verdict.cells
    assert cell.crashes == 0, "the broken target failed to bind and was restarted onto the stranger"
    assert cell.number("put_state_mismatches") > 0
    assert [gate.message for gate in result.gates if not gate.passed] == []
    stranger_effects = httpx.get(f"http://127.0.0.1:{idempotent_stranger}/effects", timeout=5).json()
    assert stranger_effects == []  # not one request of the cell reached it
    evidence = cell_dir(options.out_root / result.run_id, VARIANT, "dropped-responses")
    log = (evidence / "target.log").read_text()
    assert f"--port {idempotent_stranger} " in log  # its first start was there, and gave it up

