"""An interrupted run (Ctrl-C or SIGTERM) ends every process it started, says so, and reports what finished.

Ctrl-C is sent as a terminal sends it: SIGINT to the whole foreground process group, so every helper the
run did not shield gets it too (the embedded proxy did, and died before the run could delete its entries).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from waiting import wait_until

from harness.paths import REPO_ROOT

SCENARIO = Path(__file__).with_name("small_payments.yaml")
SECOND_CELL = "idempotent--dropped-responses"  # the first cell, naive × dropped-responses, has finished
# at once, the cells that crash their target start first (they run longest), then the scenario's order
FIRST_THREE_STARTED = ("naive--crash", "idempotent--crash", "naive--dropped-responses")
LAST_STARTED = "idempotent--latency"
INTERRUPTED = "interrupted: everything the run started has been stopped"
BOUND_S = 90.0


def descendants(root: int) -> dict[int, int]:
    """Every live process below ``root`` (its own session or not), as pid → process group."""
    parents: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, pgrp, ...
        parents[int(entry.name)] = (int(fields[1]), int(fields[2]))
    found: dict[int, int] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, group) in parents.items():
            if ppid == parent and pid not in found:
                found[pid] = group
                frontier.append(pid)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def under_fault(out: Path, cell: str) -> bool:
    """The cell's load runs and its toxic is on: the proxy holds an entry and a toxic to delete (a crash
    cell has its proxy entry and its target, restarted by the nemesis, once its load runs)."""
    cells = list(out.glob(f"*/cells/{cell}"))
    if not cells:
        return False
    history, faults = cells[0] / "history.jsonl", cells[0] / "faults.jsonl"
    loading = history.is_file() and history.stat().st_size > 0
    if cell.endswith("--crash"):  # no toxic: its fault is the kills, planned from the load's start
        return loading
    return loading and faults.is_file() and '"on"' in faults.read_text()


@pytest.mark.parametrize(
    ("stop_signal", "at_once"),
    [(signal.SIGINT, 1), (signal.SIGTERM, 1), (signal.SIGINT, 3)],
    ids=["ctrl-c", "sigterm", "ctrl-c-three-cells-at-once"],
)
def test_interrupted_run_leaves_nothing_behind_and_reports_what_finished(
    tmp_path: Path, stop_signal: signal.Signals, at_once: int
) -> None:
    out = tmp_path / "reports"
    # one at a time: the second cell runs, the first finished; three at once: the first three all run
    running = (SECOND_CELL,) if at_once == 1 else FIRST_THREE_STARTED
    command = ["run", str(SCENARIO), "--out", str(out), "--quiet", "--parallel", str(at_once)]
    run = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", *command],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell's foreground job has
    )
    started: dict[int, int] = {}
    try:
        wait_until(
            lambda: all(under_fault(out, cell) for cell in running), f"{running} under their fault", BOUND_S
        )
        started = descendants(run.pid)
        assert len(started) >= 1 + 2 * at_once, f"expected the proxy, targets and load drivers: {started}"
        if stop_signal == signal.SIGINT:
            os.killpg(run.pid, signal.SIGINT)  # Ctrl-C: the terminal signals its whole foreground group
        else:
            run.send_signal(signal.SIGTERM)  # a CI runner's stop: the harness alone
        out_text, err = run.communicate(timeout=BOUND_S)
    finally:
        if run.poll() is None:  # the test failed early: still let the harness clean up after itself
            run.send_signal(signal.SIGTERM)
            try:
                run.communicate(timeout=BOUND_S)
            except subprocess.TimeoutExpired:
                run.kill()
                run.communicate()
    assert run.returncode == 2, err
    run_dir = next(path for path in out.iterdir() if path.name not in ("latest", ".pids"))
    document = json.loads((run_dir / "run.json").read_text())
    interrupted = [cell["interrupted"] for cell in document["verdict"]["cells"]]
    finished = interrupted.count(False)
    # exactly the same lines after Ctrl-C as after SIGTERM, and no error line (no proxy died first)
    assert err.splitlines() == [
        INTERRUPTED,
        f"partial report of the {finished} of 6 cells that finished: {run_dir.resolve() / 'index.html'}",
    ], err
    assert "Gates: INTERRUPTED" in out_text
    assert document["interrupted"] is True and document["passed"] is False
    if at_once == 1:
        assert interrupted == [False] + [True] * 5
    else:  # the running cells were stopped mid-load (a quick one may have finished), the rest never ran
        cells = document["verdict"]["cells"]
        by_cell = {f"{cell['variant']}--{cell['fault']}": cell["interrupted"] for cell in cells}
        assert all(stopped for cell, stopped in by_cell.items() if cell not in FIRST_THREE_STARTED)
        assert finished < 3
        assert not (run_dir / "cells" / LAST_STARTED).exists()  # three would have had to finish
    assert (run_dir / "junit.xml").is_file() and (run_dir / "index.html").is_file()
    (run_dir / "run.json").unlink()  # `harness report` remakes it from the cells' evidence alone
    report = [sys.executable, "-m", "harness.cli", "report", str(run_dir)]
    rebuilt = subprocess.run(report, cwd=REPO_ROOT, capture_output=True, text=True, timeout=BOUND_S)
    assert rebuilt.returncode == 1, rebuilt.stderr  # made, and an interrupted run is no pass
    assert json.loads((run_dir / "run.json").read_text())["verdict"] == document["verdict"]
    wait_until(lambda: not any(alive(pid) for pid in started), "every process the run started to end", 15)
    assert [group for group in set(started.values()) if group_alive(group)] == []
    assert list((out / ".pids").rglob("[0-9]*.json")) == []  # no child left recorded, any owner
