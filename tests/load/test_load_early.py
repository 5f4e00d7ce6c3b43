"""A load driver started early: it imports Locust while the cell's target starts, then run_driver
follows it instead of starting one; unused, it is ended with its block."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from factories import load_cell
from live_processes import driver_processes
from waiting import wait_until

import harness.load.config
from harness.history import OpEnd, iter_file
from harness.load.config import EXIT_BAD_CONFIG, driver_command, driver_started_early, run_driver
from harness.paths import REPO_ROOT

if TYPE_CHECKING:
    from conftest import Serving

WAIT_S = 60.0


def test_run_driver_follows_the_driver_started_early_and_starts_none(
    tmp_path: Path, serving: Serving, fresh_starts: list[list[str]]
) -> None:
    config_path = tmp_path / "load.json"
    with serving(lambda reference, attempt: "ok") as server:
        with driver_started_early(run_driver, config_path, None, WAIT_S):
            wait_until(lambda: len(driver_processes(config_path)) == 1, "the driver started early")
            assert not config_path.exists()
            summary = run_driver(
                load_cell(server.url, tmp_path, "e-", operations=6), config_path, lambda c, t: None, 60
            )
    assert (summary.completed, summary.total, summary.stopped_by) == (6, 6, "completed")
    assert sum(isinstance(event, OpEnd) for event in iter_file(tmp_path / "history.jsonl")) == 6
    assert fresh_starts == [driver_command(config_path, wait_for_config_s=WAIT_S)]
    assert driver_processes(config_path) == []


def test_a_driver_started_early_and_never_used_ends_with_its_block(
    tmp_path: Path, fresh_starts: list[list[str]]
) -> None:
    config_path = tmp_path / "load.json"
    with driver_started_early(run_driver, config_path, None, WAIT_S):
        wait_until(lambda: len(driver_processes(config_path)) == 1, "the driver started early")
    assert driver_processes(config_path) == [] and len(fresh_starts) == 1


def test_only_run_drivers_own_single_process_is_started_early(
    tmp_path: Path, fresh_starts: list[list[str]]
) -> None:
    def other_driver() -> None:
        pass

    with driver_started_early(other_driver, tmp_path / "a.json", None, WAIT_S):
        pass
    with driver_started_early(run_driver, tmp_path / "b.json", harness.load.config.Distribution(2), WAIT_S):
        pass
    assert fresh_starts == []


def test_a_driver_whose_config_never_comes_exits_2_saying_so(tmp_path: Path) -> None:
    path = tmp_path / "load.json"
    done = subprocess.run(
        driver_command(path, wait_for_config_s=0.2),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == EXIT_BAD_CONFIG
    assert done.stderr.strip() == f"load driver: {path}: not written within 0.2 s"
