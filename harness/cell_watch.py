"""Looks at a running cell: stops its load once every gate on it is decided (``load.stop: decided``), and
hands each look's verdict to whoever wants the counts so far (the live metrics: :mod:`harness.tally`).

The load runs in its own process and writes the history as it goes; a thread of the orchestrator
looks every :data:`LOOK_INTERVAL_S`: it checks the evidence so far (the history, then the effects
probed now) and asks :mod:`harness.stopping` whether the cell's gates are decided. When they are, it
tells the load to start no more operations (:meth:`harness.load.link.LoadLink.stop`): the operations in
flight end as usual, the cell settles and the final check runs on the whole evidence, as for a cell
that ran its budget.

A cell that runs its whole budget is looked at only for the counts, and only when someone listens for
them; such a watch rests :data:`TALLY_REST` times as long as its last look took (at least
:data:`TALLY_INTERVAL_S`), so a large history, read whole at each look, takes at most a fifth of a core.

A look that cannot be made is skipped, never an error: the target is down between a crash and its
restart, a database is locked by the writer, a user's probe does not expect to be read mid-run. The
next look tries again, and at worst the cell runs its whole budget.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from harness.load.link import LoadLink
from harness.stopping import CellDecision
from harness.verdict import CellVerdict, StopNote

logger = logging.getLogger(__name__)

LOOK_INTERVAL_S = 0.5
"""How often a running cell is looked at. The bounds stay valid however often (harness.sequential);
more often stops a cell sooner after it is decided, at the cost of reading its history again."""

TALLY_INTERVAL_S = 1.0
"""How often a cell that runs its whole budget is looked at for its counts alone, at most."""
TALLY_REST = 4.0
"""How many times as long as its last look such a watch waits before the next one."""

_JOIN_TIMEOUT_S = 30.0


class CellWatch:
    """A thread that looks at one running cell, for a ``with`` block around its load.

    ``look`` returns the verdict of the evidence so far (it may raise: that look is skipped);
    ``seen`` hears every verdict a look made; ``decide`` turns it into the gates' decisions (None: the
    cell runs its budget, and is looked at for ``seen`` alone, resting ``rest`` times as long as a look
    took). :attr:`note` is set when the watch stopped the load.
    """

    def __init__(
        self,
        look: Callable[[], CellVerdict],
        decide: Callable[[CellVerdict], CellDecision] | None,
        link: LoadLink,
        interval_s: float = LOOK_INTERVAL_S,
        *,
        seen: Callable[[CellVerdict], None] | None = None,
        rest: float = 0.0,
    ) -> None:
        self.look = look
        self.decide = decide
        self.link = link
        self.interval_s = interval_s
        self.seen = seen
        self.rest = rest
        self.note: StopNote | None = None
        self._pause_s = interval_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="cell-watch", daemon=True)

    def __enter__(self) -> CellWatch:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join(timeout=_JOIN_TIMEOUT_S)  # a look is bounded by its probe's own timeout

    def _watch(self) -> None:
        while not self._done.wait(self._pause_s):
            if self.link.ended:
                return
            if self.link.first_op_at is None:
                continue
            held = self.link.holds and not self.link.released  # kills still to be made: inconclusive
            if held and self.seen is None:
                continue
            verdict = self._look()
            if verdict is None or self._done.is_set():
                continue
            if self.seen is not None:
                self.seen(verdict)
            decision = None if self.decide is None or held else self.decide(verdict)
            if decision is not None and decision.decided and not self._done.is_set():
                self.note = decision.note()
                self.link.stop()
                return

    def _look(self) -> CellVerdict | None:
        started = time.monotonic()
        try:
            return self.look()
        except Exception as error:  # noqa: BLE001 - any look may fail mid-run; the next one tries again
            logger.debug("look at the running cell skipped: %s", error)
            return None
        finally:
            self._pause_s = max(self.interval_s, self.rest * (time.monotonic() - started))
