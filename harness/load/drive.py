"""What the local driver and the distributed master share: the bounded run loop and its JSON lines.

Both start Locust users (their own, or their workers'), wake every ``PROGRESS_INTERVAL_S`` to print
progress, and stop when every operation ended, ``max_duration_s`` passed, a user hit a bug, or
Ctrl-C came; then print one done line. A held load (``release_path`` set) runs on past its budget
until the orchestrator creates that file; once it creates ``stop_path`` (the cell's gates are decided)
no operation starts, and the load ends when those in flight have. Imports Locust (gevent): driver
processes only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import gevent
from locust.runners import Runner
from locust.stats import RequestStats

from harness.load.config import DoneLine, LoadCellConfig, LocustTotals, ProgressLine
from harness.load.entries import request_totals
from harness.load.operations import OperationQueue

PROGRESS_INTERVAL_S = 0.1
"""How often the driver wakes to check for the end and print progress (at most 10 lines a second)."""

Ending = Literal["completed", "max_duration_s", "interrupted", "decided"]


def max_duration_reason(max_duration_s: float) -> str:
    """Why operations still running were cut short when the cell's time ran out."""
    return f"stopped: max_duration_s ({max_duration_s:g} s) passed"


def emit(line: ProgressLine) -> None:
    print(line.model_dump_json(), flush=True)


def fail(status: int, message: str) -> int:
    print(f"load driver: {message}", file=sys.stderr, flush=True)
    return status


def run_until_done(
    runner: Runner,
    config: LoadCellConfig,
    queue: OperationQueue,
    *,
    tick: Callable[[], None],
    broken: Callable[[], bool],
    stop: Callable[[str], None],
) -> Ending:
    """Start the users and wait, bounded by ``max_duration_s``, until every operation has ended.

    ``tick`` runs at each wake-up; ``broken`` says a user hit a bug (then waiting would hide
    nothing); ``stop(reason)`` is told why operations still running get cut short. A user bug
    ends the loop as ``completed``: the caller reports the bug itself. The caller quits the runner.
    """
    deadline = time.monotonic() + config.load.max_duration_s
    release = None if config.release_path is None else Path(config.release_path)
    stop_file = None if config.stop_path is None else Path(config.stop_path)
    decided = False
    if release is not None:
        queue.hold()
    try:
        runner.start(min(config.load.users, config.load.operations), spawn_rate=config.load.spawn_rate)
        while not queue.done:
            if queue.held and release is not None and release.exists():
                queue.release()
            if stop_file is not None and stop_file.exists():
                # those in flight run on to their end (the loop waits); a load that had handed out all
                # its operations already ends as completed, for it ran its whole budget
                decided = queue.stop_taking()
                stop_file = None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                stop(max_duration_reason(config.load.max_duration_s))
                return "max_duration_s"
            gevent.sleep(min(PROGRESS_INTERVAL_S, remaining))
            tick()
            if broken():
                stop("stopped: driver error")
                break
    except KeyboardInterrupt:
        stop("stopped: driver interrupted")
        return "interrupted"
    return "decided" if decided else "completed"


class ProgressPrinter:
    """Prints a progress line whenever the load's counts or what is in flight have changed.

    ``attempts_in_flight`` counts the attempts sent and not answered yet, where this process sees
    them (a master sees only operations, and passes nothing).
    """

    def __init__(self, queue: OperationQueue, attempts_in_flight: Callable[[], int] | None = None) -> None:
        self.queue = queue
        self.attempts_in_flight = attempts_in_flight
        self._last: ProgressLine | None = None

    def __call__(self) -> None:
        queue = self.queue
        line = ProgressLine(
            completed=queue.completed,
            total=queue.total,
            started=queue.started,
            first_op_at=queue.first_taken_at,
            attempts_in_flight=None if self.attempts_in_flight is None else self.attempts_in_flight(),
        )
        if line != self._last:
            self._last = line
            emit(line)


def emit_done(queue: OperationQueue, stats: RequestStats, duration_s: float, ending: Ending) -> None:
    """The done line: how many operations ended, why the run stopped, Locust's HTTP request totals."""
    totals = request_totals(stats)
    emit(
        DoneLine(
            completed=queue.completed,
            total=queue.total,
            started=queue.started,
            first_op_at=queue.first_taken_at,
            duration_s=round(duration_s, 3),
            stopped_by="completed" if ending == "interrupted" else ending,
            locust_stats=LocustTotals(
                requests=totals.num_requests,
                failures=totals.num_failures,
                median_response_time_ms=totals.median_response_time if totals.num_requests else None,
            ),
        )
    )
