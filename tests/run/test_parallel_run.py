"""Cells that run at once (``parallel_cells``), on the Run's in-memory fakes: the result keeps the
scenario's order, and a Ctrl-C or a failing cell still stops everything every running cell started."""

from __future__ import annotations

import _thread
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from run_fakes import (
    BOUND_S,
    PARALLEL_SCENARIO,
    FakeLoad,
    Recorder,
    assert_all_cleaned_up,
    fake_run,
    scenario_from,
)

from harness.errors import LoadError
from harness.listeners import subscribe_listeners
from harness.load.config import Distribution, LoadCellConfig
from harness.load.link import LoadLink
from harness.run import RunInterrupted
from harness.verdict import CellVerdict

RUNNING_AT_ONCE = 3  # PARALLEL_SCENARIO's parallel_cells
IN_SCENARIO_ORDER = [(variant, fault) for fault in ("slow", "dropped") for variant in ("naive", "idempotent")]


class GatedLoad(FakeLoad):
    """The fake load, where each cell first calls ``gate(variant, fault)`` and records how it ended."""

    def __init__(self, gate: Callable[[str, str], None]) -> None:
        super().__init__()
        self.gate = gate
        self.ended: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def __call__(
        self,
        config: LoadCellConfig,
        config_path: Path,
        on_progress: Callable[[int, int], None],
        timeout_s: float,
        distribution: Distribution | None = None,
        link: LoadLink | None = None,
    ) -> None:
        cell = (config.variant, config.fault)
        try:
            self.gate(*cell)
            super().__call__(config, config_path, on_progress, timeout_s, distribution, link)
        except BaseException as error:
            self._end(cell, type(error).__name__)
            raise
        self._end(cell, "finished")

    def _end(self, cell: tuple[str, str], how: str) -> None:
        with self._lock:
            self.ended[cell] = how


def held_until_interrupted() -> None:
    """Spin (never block in C: an interrupt is raised between bytecodes) until interrupted, bounded."""
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        time.sleep(0.01)
    raise AssertionError("this cell was never interrupted")


def test_cells_finish_in_any_order_and_the_result_keeps_the_scenario_order(tmp_path: Path) -> None:
    first_cell_may_end = threading.Event()

    def naive_slow_ends_last(variant: str, fault: str) -> None:
        if (variant, fault) == ("naive", "slow"):
            assert first_cell_may_end.wait(BOUND_S), "the other cells never finished"

    load = GatedLoad(naive_slow_ends_last)
    run, runtime, proxy = fake_run(scenario_from(PARALLEL_SCENARIO, tmp_path), tmp_path, load)
    recorder = Recorder(run.events)
    checked: list[tuple[str, str]] = []

    def on_checked(*, verdict: CellVerdict) -> None:
        checked.append((verdict.variant, verdict.fault))
        if len(checked) == 3:
            first_cell_may_end.set()

    run.events.cell_checked.add_listener(on_checked)
    subscribe_listeners(run.events)
    result = run.run()
    assert checked[-1] == ("naive", "slow") and sorted(checked) == sorted(IN_SCENARIO_ORDER)
    assert [(cell.variant, cell.fault) for cell in result.verdict.cells] == IN_SCENARIO_ORDER
    written = json.loads((result.out_dir / "run.json").read_text())["verdict"]["cells"]
    assert [(cell["variant"], cell["fault"]) for cell in written] == IN_SCENARIO_ORDER
    progress = [payload for name, payload in recorder.heard if name == "cell_progress"]
    assert {(p["variant"], p["fault"]) for p in progress} == set(IN_SCENARIO_ORDER)
    assert_all_cleaned_up(runtime, proxy)

    one_at_a_time, _, _ = fake_run(scenario_from(PARALLEL_SCENARIO, tmp_path), tmp_path)
    one_at_a_time.options = dataclasses.replace(one_at_a_time.options, parallel_cells=1)
    sequential = one_at_a_time.run()
    assert [cell.state for cell in result.verdict.cells] == [cell.state for cell in sequential.verdict.cells]
    assert [gate.passed for gate in result.gates] == [gate.passed for gate in sequential.gates]


def test_a_ctrl_c_stops_every_running_cell_and_cleans_up_what_each_started(tmp_path: Path) -> None:
    in_load = threading.Barrier(RUNNING_AT_ONCE, timeout=BOUND_S)

    def interrupt_once_all_run(variant: str, fault: str) -> None:
        if in_load.wait() == 0:
            _thread.interrupt_main()  # as a terminal's Ctrl-C: a KeyboardInterrupt in the main thread
        held_until_interrupted()

    load = GatedLoad(interrupt_once_all_run)
    run, runtime, proxy = fake_run(scenario_from(PARALLEL_SCENARIO, tmp_path), tmp_path, load)
    started = time.monotonic()
    with pytest.raises(RunInterrupted) as raised:
        run.run()
    assert time.monotonic() - started < BOUND_S, "the run waited for its cells instead of stopping them"
    assert_all_cleaned_up(runtime, proxy)
    assert len(runtime.targets) == RUNNING_AT_ONCE  # the fourth cell never started
    assert sorted(load.ended.values()) == ["KeyboardInterrupt"] * RUNNING_AT_ONCE
    assert [cell.state for cell in raised.value.result.verdict.cells] == ["interrupted"] * 4


def test_a_failing_cell_stops_the_cells_beside_it_and_everything_is_cleaned_up(tmp_path: Path) -> None:
    in_load = threading.Barrier(RUNNING_AT_ONCE, timeout=BOUND_S)

    def idempotent_slow_fails(variant: str, fault: str) -> None:
        in_load.wait()
        if (variant, fault) == ("idempotent", "slow"):
            raise LoadError("the load driver died")
        held_until_interrupted()

    load = GatedLoad(idempotent_slow_fails)
    run, runtime, proxy = fake_run(scenario_from(PARALLEL_SCENARIO, tmp_path), tmp_path, load)
    recorder = Recorder(run.events)
    with pytest.raises(LoadError, match="the load driver died"):
        run.run()
    assert_all_cleaned_up(runtime, proxy)
    assert load.ended == {
        ("naive", "slow"): "KeyboardInterrupt",
        ("idempotent", "slow"): "LoadError",
        ("naive", "dropped"): "KeyboardInterrupt",
    }
    assert "cell_checked" not in recorder.names()


def test_parallel_from_the_options_overrides_the_scenario(tmp_path: Path) -> None:
    at_once = 0
    most_at_once = 0
    count_lock = threading.Lock()

    def count(variant: str, fault: str) -> None:
        nonlocal at_once, most_at_once
        with count_lock:
            at_once += 1
            most_at_once = max(most_at_once, at_once)
        time.sleep(0.05)
        with count_lock:
            at_once -= 1

    load = GatedLoad(count)
    run, runtime, proxy = fake_run(scenario_from(PARALLEL_SCENARIO, tmp_path), tmp_path, load)
    run.options = dataclasses.replace(run.options, parallel_cells=1)
    run.run()
    assert most_at_once == 1
    assert runtime.log[:2] == [("start", "naive"), ("stop", "naive")]
