"""The events of a run: typed hooks declared once, fired by the run, heard by listeners.

Borrowed from Locust's ``events``: a producer fires keyword arguments on a hook and never knows who
listens; terminal progress, the report writers, the Markdown summaries and the baseline gate are all
listeners (:mod:`harness.listeners`). Every hook of a run, in the order it fires::

    run_started(run_id, scenario, scenario_path, out_dir)       once, the run folder just made
      note(message)                                             any time: a runtime or a service speaks
      cell_started(variant, fault, operations)                  per cell, before its target starts
        cell_progress(variant, fault, completed, total)         while the cell's load runs
        cell_tally(variant, fault, tally, final=False)          each look at the running cell
        fault(variant, fault, event)                            each toxic on/off, crash, restart
        cell_tally(variant, fault, tally, final=True)           once, the cell's checked counts
      cell_checked(verdict)                                     per cell, its CellVerdict
    run_checked(result, add_gates)                              once, before the result is final
    run_finished(result)                                        once, the final RunResult

Listeners run in the order they were added. A listener that raises an ``Exception`` does not stop the
run nor the listeners after it: the error is logged with its traceback and kept in
:attr:`RunEvents.failures`, and the run still returns its result. This is Locust's rule for its hooks,
and for the same reason: a broken report writer must not throw away what a long run found. A face (the
CLI, the pytest plugin) reads ``failures`` after the run and decides what they cost (the CLI exits 2:
a report or a gate may be missing). ``KeyboardInterrupt`` and other ``BaseException``\\ s are not
caught: an interrupted run is cleaned up as usual.

With ``parallel_cells`` above 1 several cells run at once, so the per-cell hooks of different cells
interleave (each names its cell; ``cell_checked`` comes in the order the cells finish, while the result
keeps the scenario's order). ``fault`` fires from a nemesis's thread, a running cell's ``cell_tally`` from
its watch's thread, ``cell_started``, ``cell_progress`` and the final ``cell_tally`` from the cell's own
thread (the caller's when cells run one at a time), the others from
the thread that called ``Run.run``. One lock per :class:`RunEvents` makes the listeners of a run hear one
event at a time, so no listener needs a lock of its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Generic, ParamSpec

if TYPE_CHECKING:
    from harness.history import CrashEvent, FaultEvent, RestartEvent
    from harness.result import GateResult, RunResult
    from harness.scenario import Scenario
    from harness.tally import CellTally
    from harness.verdict import CellVerdict

logger = logging.getLogger(__name__)

P = ParamSpec("P")


@dataclass(frozen=True)
class ListenerFailure:
    """One listener that raised: which hook, which listener, what it raised."""

    hook: str
    listener: str
    error: Exception

    def __str__(self) -> str:
        return f"{self.listener} on {self.hook}: {type(self.error).__name__}: {self.error}"


class EventHook(Generic[P]):
    """One hook: ``add_listener``, ``remove_listener``, ``fire(**kwargs)`` (Locust's ``EventHook``).

    The type parameter is the listeners' signature, so mypy checks both what a listener accepts and
    what a producer fires. Producers fire keyword arguments only, so a listener's parameter names are
    the hook's contract.
    """

    def __init__(
        self, name: str, failures: list[ListenerFailure], lock: threading.RLock | None = None
    ) -> None:
        self.name = name
        self._listeners: list[Callable[P, None]] = []
        self._failures = failures
        self._lock = lock or threading.RLock()  # shared by a run's hooks: one event heard at a time

    def add_listener(self, listener: Callable[P, None]) -> Callable[P, None]:
        """Add ``listener`` after those already added; returns it, so it can serve as a decorator."""
        self._listeners.append(listener)
        return listener

    def remove_listener(self, listener: Callable[P, None]) -> None:
        self._listeners.remove(listener)

    @property
    def heard(self) -> bool:
        """Whether anyone listens: a producer whose event is costly to make (a look at a running
        cell) makes it only then."""
        return bool(self._listeners)

    def fire(self, *args: P.args, **kwargs: P.kwargs) -> None:
        """Call every listener in order; one that raises is logged and recorded, and the rest still run."""
        if args:
            raise TypeError(f"{self.name}.fire takes keyword arguments only")
        with self._lock:
            for listener in list(self._listeners):
                try:
                    listener(*args, **kwargs)
                except Exception as error:  # noqa: BLE001 - the rule of every hook: see the module docstring
                    failure = ListenerFailure(self.name, _name_of(listener), error)
                    logger.error("listener %s failed", failure, exc_info=error)
                    self._failures.append(failure)


def _name_of(listener: Callable[..., None]) -> str:
    """``Class.method`` for a bound method (``ReportFile(html).run_finished`` where it has a repr)."""
    owner = getattr(listener, "__self__", None)
    name = getattr(listener, "__name__", repr(listener))
    if owner is None:
        return str(name)
    own_repr = "__repr__" in vars(type(owner))
    shown = repr(owner) if own_repr else type(owner).__name__
    return f"{shown}.{name}"


# The hooks' signatures, declared once: a listener of a hook is called with exactly these keywords.


def run_started(*, run_id: str, scenario: Scenario, scenario_path: str, out_dir: Path) -> None:
    """The run folder exists and nothing has started yet."""


def cell_started(*, variant: str, fault: str, operations: int) -> None:
    """A cell begins, before its target starts; its load will make ``operations`` operations."""


def cell_progress(*, variant: str, fault: str, completed: int, total: int) -> None:
    """The cell's load has completed ``completed`` of ``total`` operations (the load driver's lines)."""


def cell_tally(*, variant: str, fault: str, tally: CellTally, final: bool) -> None:
    """The cell's counts (:mod:`harness.tally`): the evidence so far at a look while its load runs
    (``final`` False; made only while someone listens), then once the cell's checked evidence
    (``final`` True: the numbers run.json keeps), just before ``cell_checked``."""


def fault(*, variant: str, fault: str, event: FaultEvent | CrashEvent | RestartEvent) -> None:
    """The nemesis recorded ``event`` in the cell's history: a toxic on or off, a crash, a restart."""


def cell_checked(*, verdict: CellVerdict) -> None:
    """A cell is done, its target and proxies gone: its verdict."""


def note(*, message: str) -> None:
    """A message for the person watching: a runtime fell back, a service was left out."""


def run_checked(*, result: RunResult, add_gates: Callable[[Iterable[GateResult]], None]) -> None:
    """Every cell is checked and the scenario's gates evaluated; a listener may add gates (the
    baseline gate does). Fired before ``run_finished``, so every gate added here is in the result the
    report writers get: that order is the run's, it does not hang on the order of the listeners."""


def run_finished(*, result: RunResult) -> None:
    """The final result, with every gate. The report writers listen here, in the order
    :func:`harness.listeners.subscribe_listeners` adds them (run.json first)."""


class RunEvents:
    """The hooks of one run, each typed by its signature above. Listeners subscribe before ``Run.run``."""

    def __init__(self) -> None:
        self.failures: list[ListenerFailure] = []
        """Every listener that raised during this run, in order (see the module docstring)."""
        lock = threading.RLock()  # re-entrant: a listener may fire another hook (a note)
        self.run_started = _hook(run_started, self.failures, lock)
        self.cell_started = _hook(cell_started, self.failures, lock)
        self.cell_progress = _hook(cell_progress, self.failures, lock)
        self.cell_tally = _hook(cell_tally, self.failures, lock)
        self.fault = _hook(fault, self.failures, lock)
        self.cell_checked = _hook(cell_checked, self.failures, lock)
        self.note = _hook(note, self.failures, lock)
        self.run_checked = _hook(run_checked, self.failures, lock)
        self.run_finished = _hook(run_finished, self.failures, lock)


def _hook(
    signature: Callable[P, None], failures: list[ListenerFailure], lock: threading.RLock
) -> EventHook[P]:
    """A hook named and typed after ``signature``."""
    return EventHook(signature.__name__, failures, lock)
