"""Several cells of a run at once, each on a thread of its own, stopped together on Ctrl-C or an error.

A cell spends its time waiting (on its target's start, its load process, the fault's timing), not on
the orchestrator's CPU, so threads are enough to overlap cells: each has its own target, proxy entries,
load process and per-cell store names already.

Stopping is the hard part. A signal reaches only the main thread, and a cell tears itself down when a
``KeyboardInterrupt`` unwinds it (its proxy entries, its load process, its target, in order). So when the
caller's thread is interrupted, or one cell fails (the run is lost then: the others would only be thrown
away), every cell still running gets that same ``KeyboardInterrupt`` raised in its own thread
(``PyThreadState_SetAsyncExc``) and is waited for while it cleans up: the clean-up path of a parallel cell
is exactly the one a sequential cell takes on Ctrl-C, already tested. Such an exception is raised between
two bytecodes of the thread, never inside a C call, so a blocking wait in a cell has to be short (the load
driver's progress loop waits at most a quarter of a second at a time).

Two things a cell thread must never do. It must not take back an interrupt with
``PyThreadState_SetAsyncExc(id, NULL)``: on CPython 3.11 that leaves the interpreter's "an asynchronous
exception is pending" flag set for good, and a thread under a profiler or tracer (cProfile, coverage, a
debugger) then loops forever at its next function entry. And its result goes through a
:class:`queue.SimpleQueue`, written in C: an interrupt that lands late, between two bytecodes of a
Python-level queue's ``put``, could leave that queue's mutex held and every other cell blocked on it.
"""

from __future__ import annotations

import ctypes
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

_Result = TypeVar("_Result")

RESULT_POLL_S = 0.2
"""How long the caller's thread waits for a result at a time (signals are handled between waits)."""


def run_at_once(cells: Sequence[Callable[[], _Result]], limit: int, done: Callable[[_Result], None]) -> None:
    """Run each of ``cells`` on up to ``limit`` threads at once, started in order; ``done`` hears each
    result in the caller's thread as it comes (completion order).

    The first cell that raises, or a ``KeyboardInterrupt`` in the caller's thread, stops the rest: each
    running cell gets a ``KeyboardInterrupt`` in its thread, all are waited for, none not yet started
    starts, and the first error (or the interrupt) is raised here.
    """
    pending = list(reversed(range(len(cells))))
    running: dict[int, _CellThread[_Result]] = {}
    results: queue.SimpleQueue[tuple[int, _Result | BaseException]] = queue.SimpleQueue()
    try:
        while pending or running:
            while pending and len(running) < limit:
                index = pending.pop()
                running[index] = _CellThread(cells[index], index, results)
                running[index].start()  # after it is in `running`, so an interrupt now still stops it
            try:
                index, outcome = results.get(timeout=RESULT_POLL_S)
            except queue.Empty:
                _fail_if_lost(running, results)
                continue
            running.pop(index).join()
            if isinstance(outcome, BaseException):
                raise outcome
            done(outcome)
    finally:
        _stop_all(list(running.values()))


def _fail_if_lost(
    running: dict[int, _CellThread[_Result]], results: queue.SimpleQueue[tuple[int, _Result | BaseException]]
) -> None:
    """Raise if a cell's thread has ended without its result: nothing would ever come, and waiting for it
    would hang the run silently. Its result is put before it ends, so a thread seen ended while the
    queue is then seen empty (the caller is its only reader) never handed one over."""
    ended = [index for index, thread in running.items() if not thread.is_alive()]
    if ended and results.empty():
        raise RuntimeError(f"cell {ended[0]}'s thread ended without handing over its result (a harness bug)")


def _stop_all(threads: list[_CellThread[_Result]]) -> None:
    """Interrupt every thread still in its cell, then wait for all of them to end their clean-up."""
    for thread in threads:
        thread.interrupt()
    for thread in threads:
        thread.join()


class _CellThread(Generic[_Result]):
    """One cell on its own thread; it puts ``(index, result or error)`` on ``results`` when it ends."""

    def __init__(
        self,
        cell: Callable[[], _Result],
        index: int,
        results: queue.SimpleQueue[tuple[int, _Result | BaseException]],
    ) -> None:
        self._cell = cell
        self._index = index
        self._results = results
        self._guard = threading.Lock()
        self._in_cell = True  # under _guard: an interrupt is raised only while the cell still runs
        self._thread = threading.Thread(target=self._run, name=f"cell-{index}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        outcome: _Result | BaseException
        try:
            try:
                outcome = self._cell()
            finally:
                with self._guard:
                    self._in_cell = False  # no interrupt is raised from now on
                _checkpoint()  # one raised before lands here, caught below, if it has not landed yet
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread, which raises it
            outcome = error
        self._report(outcome)

    def _report(self, outcome: _Result | BaseException) -> None:
        self._results.put((self._index, outcome))

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def interrupt(self) -> None:
        """Raise ``KeyboardInterrupt`` in the cell's thread, if the cell is still running."""
        with self._guard:
            if self._in_cell and self._thread.ident is not None:
                _raise_in(self._thread.ident, KeyboardInterrupt)

    def join(self) -> None:
        if self._thread.ident is not None:  # started
            self._thread.join()


def _raise_in(thread_id: int, error: type[BaseException]) -> None:
    """Raise ``error`` in thread ``thread_id`` at its next check for one (a call, a loop's jump back).
    Never with NULL to take one back: see the module's docstring."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(error))


def _checkpoint() -> None:
    """Nothing: entering a Python function is where CPython raises a pending asynchronous exception."""
