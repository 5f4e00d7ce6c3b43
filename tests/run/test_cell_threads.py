"""Cells on threads of their own (:mod:`harness.cell_threads`): nothing a cell thread does may leave the
caller's thread waiting forever, under a profiler either."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from waiting import WAIT_S, wait_until

from harness import cell_threads
from harness.cell_threads import run_at_once

PROFILED_RUN = textwrap.dedent(
    """
    import cProfile
    from harness.cell_threads import run_at_once

    results = []
    profiler = cProfile.Profile()
    profiler.enable()
    run_at_once([lambda: "first", lambda: "second"], 2, results.append)
    profiler.disable()
    print(sorted(results))
    """
)


def test_cells_run_at_once_under_a_profiler_finish() -> None:
    """`python -m cProfile -m harness.cli run` once spun forever when the first cell thread ended: the
    thread took back an interrupt it never had (PyThreadState_SetAsyncExc with NULL), which on CPython
    3.11 leaves the interpreter's "async exception pending" flag set for good, and a profiled thread
    then loops at its next function entry. In a process of its own, so a hang is killed at the deadline."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", PROFILED_RUN], capture_output=True, text=True, timeout=WAIT_S, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"cells run at once under cProfile did not finish within {WAIT_S:g} s")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['first', 'second']"


def test_a_cell_thread_that_ends_without_its_result_is_an_error_not_a_hang(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A thread that dies before it hands over its result (it cannot, barring a bug) must surface as an
    error naming the cell: the caller's thread would otherwise wait for that result forever."""
    monkeypatch.setattr(cell_threads._CellThread, "_report", lambda self, outcome: None)
    raised: list[BaseException] = []

    def run() -> None:
        try:
            run_at_once([lambda: "lost"], 2, lambda result: None)
        except BaseException as error:  # noqa: BLE001 - looked at by the test
            raised.append(error)

    caller = threading.Thread(target=run, daemon=True)  # daemon: a hang fails the test, not the session
    caller.start()
    wait_until(lambda: not caller.is_alive(), "run_at_once to give up on the lost cell thread")
    assert len(raised) == 1 and isinstance(raised[0], RuntimeError)
    assert "cell 0" in str(raised[0])
