"""``harness clean``: only runs recorded under ``--out`` whose harness is gone; what it left alone is said."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cleanup import clean_runs
from harness.cli import main
from harness.load.config import end_recorded, start_recorded
from harness.pidfiles import OWNER_FILE, REGISTRY_FOLDER, PidRegistry
from harness.proctable import process_info, snapshot, wait_gone

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def sleeper(sleepers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(SLEEP, start_new_session=True)
    sleepers.append(process)
    return process


def recorded_run(out: Path, run_id: str, child: subprocess.Popen[bytes], owner_pid: int | None) -> Path:
    """A registry folder as a harness leaves it: its runs and one child; owned by ``owner_pid``
    (None: an owner that has ended)."""
    registry = PidRegistry(out / REGISTRY_FOLDER, folder=out / REGISTRY_FOLDER / run_id)
    registry.note_run(run_id)
    registry.add(child.pid, SLEEP)
    if owner_pid is None:
        ended = subprocess.Popen([sys.executable, "-c", "pass"])
        ended.wait()
        owner = {"pid": ended.pid, "started": 0, "runs": [run_id]}
    else:
        info = process_info(owner_pid)
        owner = {"pid": owner_pid, "started": info.started if info else None, "runs": [run_id]}
    (registry.folder / OWNER_FILE).write_text(json.dumps(owner))
    return registry.folder


def test_a_live_owner_s_run_is_left_alone_and_a_dead_one_s_is_cleaned(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    live_child, left_child, owner = sleeper(sleepers), sleeper(sleepers), sleeper(sleepers)
    recorded_run(tmp_path, "payments-live", live_child, owner.pid)
    dead_folder = recorded_run(tmp_path, "payments-killed", left_child, None)
    left = snapshot([left_child.pid])
    docker_calls: list[str] = []

    def docker(run_id: str) -> int:
        docker_calls.append(run_id)
        return 2

    report = clean_runs(tmp_path, docker=docker, docker_runs={"payments-live", "payments-killed", "other"})
    assert wait_gone(left) == []
    assert live_child.poll() is None  # a concurrent run's process is never touched
    assert docker_calls == ["payments-killed"]
    assert [line.split(" (")[0] for line in report.ended] == [f"pid {left_child.pid}"]
    assert report.removed == ["2 Docker object(s) of run payments-killed"]
    assert report.skipped == [
        f"payments-live: its harness (pid {owner.pid}) is still running",
        f"Docker objects of run other: not recorded under {tmp_path}",
    ]
    assert not dead_folder.exists()


def test_a_named_run_id_limits_the_clean_to_that_run(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    first, second = sleeper(sleepers), sleeper(sleepers)
    recorded_run(tmp_path, "run-a", first, None)
    recorded_run(tmp_path, "run-b", second, None)
    report = clean_runs(tmp_path, "run-b")
    assert wait_gone(snapshot([second.pid])) == []
    assert first.poll() is None
    assert len(report.ended) == 1
    assert clean_runs(tmp_path, "run-c").skipped == [f"run-c: no run of that id is recorded under {tmp_path}"]


def test_the_clean_command_says_what_it_left_alone(
    tmp_path: Path, sleepers: list[subprocess.Popen[bytes]], capsys: pytest.CaptureFixture[str]
) -> None:
    child = sleeper(sleepers)
    recorded_run(tmp_path, "mine", child, None)
    PidRegistry(tmp_path / REGISTRY_FOLDER).note_run("ours-still-running")  # this test process owns it
    assert main(["clean", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "ended 1 leftover process group(s)" in out
    assert "left alone ours-still-running: its harness" in out


def test_a_load_driver_is_recorded_so_clean_ends_it_after_the_harness_was_killed(tmp_path: Path) -> None:
    registry = PidRegistry(tmp_path / REGISTRY_FOLDER)
    registry.note_run("run")
    cell = tmp_path / "run" / "cells" / "naive--crash"
    cell.mkdir(parents=True)
    with (cell / "load.stderr.log").open("wb") as stderr:
        driver = start_recorded(SLEEP, stderr, None)
    running = snapshot([driver.pid])
    try:
        assert registry.pids() == [driver.pid]
        assert registry.clean() == [driver.pid]
        assert wait_gone(running) == []
    finally:
        end_recorded(driver)
    with (cell / "load.stderr.log").open("wb") as stderr:
        end_recorded(start_recorded(SLEEP, stderr, None))
    assert registry.pids() == []  # a driver the harness ended itself is forgotten
