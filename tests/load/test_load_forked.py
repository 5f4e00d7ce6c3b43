"""Load drivers forked from a run's driver fork server: Locust imported once, each driver still a
process of its own that run_driver follows and ends by pid, and nothing left once the block ends."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from factories import load_cell
from waiting import wait_until

import harness.load.config
import harness.load.forked
from harness.history import OpEnd, iter_file
from harness.load.config import EXIT_BAD_CONFIG, driver_env, driver_started_early, run_driver
from harness.load.forked import ForkedDriver, drivers_forked
from harness.proctable import process_info

if TYPE_CHECKING:
    from conftest import Serving

WAIT_S = 60.0


def _gone(pid: int) -> bool:
    info = process_info(pid)
    return info is None or info.zombie


def _early(config_path: Path) -> ForkedDriver:
    driver = harness.load.config._EARLY[config_path].process
    assert isinstance(driver, ForkedDriver)
    return driver


def test_a_forked_driver_runs_the_cell_and_the_server_ends_with_its_block(
    tmp_path: Path, serving: Serving, fresh_starts: list[list[str]]
) -> None:
    config_path = tmp_path / "load.json"
    with serving(lambda reference, attempt: "ok") as server:
        with drivers_forked(driver_env(), None, tmp_path / "forks.log"):
            server_pid = harness.load.forked._SERVERS[-1].pid
            with driver_started_early(run_driver, config_path, None, WAIT_S):
                driver = _early(config_path)
                summary = run_driver(
                    load_cell(server.url, tmp_path, "f-", operations=6), config_path, lambda c, t: None, 60
                )
    assert (summary.completed, summary.total, summary.stopped_by) == (6, 6, "completed")
    assert sum(isinstance(event, OpEnd) for event in iter_file(tmp_path / "history.jsonl")) == 6
    assert fresh_starts == []
    assert _gone(driver.pid) and driver.returncode == 0
    assert server_pid is not None and server_pid != driver.pid
    wait_until(lambda: _gone(server_pid), "the driver fork server ended with its block")


def test_a_forked_driver_never_used_is_killed_with_its_block(tmp_path: Path) -> None:
    config_path = tmp_path / "load.json"
    with drivers_forked(driver_env(), None, tmp_path / "forks.log"):
        with driver_started_early(run_driver, config_path, None, WAIT_S):
            driver = _early(config_path)
            assert driver.poll() is None
        assert _gone(driver.pid) and driver.returncode == -9


def test_a_forked_driver_writes_its_stderr_to_the_cell_log_not_its_stdout(tmp_path: Path) -> None:
    config_path = tmp_path / "load.json"
    with drivers_forked(driver_env(), None, tmp_path / "forks.log"):
        with driver_started_early(run_driver, config_path, None, 0.2):
            driver = _early(config_path)
            assert driver.wait(WAIT_S) == EXIT_BAD_CONFIG
            assert driver.stdout is not None and driver.stdout.read() == b""
    said = (tmp_path / "load.stderr.log").read_text(encoding="utf-8").strip()
    assert said == f"load driver: {config_path}: not written within 0.2 s"
