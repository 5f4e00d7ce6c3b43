"""The load's own history lines: an operation's start and end, and each of its attempts', written cheaply.

Four lines per operation at hundreds of operations a second: a pydantic model built, serialised
and flushed for each cost the load process about 22 µs of CPU per operation (``make bench-load``
weighs the load's CPU per attempt). Here each line is a dict in its model's field order, without
``None`` fields, encoded by orjson, at a third of that: the line
:meth:`~harness.history.HistoryWriter.append` writes for the same model (tests hold the two
together), and the shape :mod:`harness.records` reads fastest. The models stay the one definition
of what a line may hold: reading goes through them.

Only an attempt's start is flushed, and every line buffered before it with it, before its request
leaves: the file holds every attempt that may have reached the server even if the load process is
killed. Ends follow with the next start, or with the first line written more than
:data:`FLUSH_AFTER_S` after the last flush, or at :meth:`ClientHistory.flush_if_due` (the driver's
tick), or when the writer closes: the running cell's watch reads the growing file every half second,
and a quiet tail (few ops, long backoffs) must not hide its answers from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from harness.history import AttemptOutcome, HistoryWriter, OpOutcome

FLUSH_AFTER_S = 0.2
"""The longest a buffered line waits for a flush while lines keep coming (well inside the watch's 0.5 s)."""


class ClientHistory:
    """Writes one load process's client events to its :class:`~harness.history.HistoryWriter`.

    ``clock`` (monotonic seconds) times the flushes; the lines' own ``t`` stays wall-clock time.
    """

    def __init__(
        self,
        writer: HistoryWriter,
        *,
        flush_after_s: float = FLUSH_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.writer = writer
        self.flush_after_s = flush_after_s
        self._clock = clock
        self._flushed_at = clock()
        self._buffered = False

    def flush_if_due(self) -> None:
        """Flush lines left in the buffer when the last flush is more than ``flush_after_s`` old:
        called at the driver's tick, it bounds their wait even when no line follows them."""
        now = self._clock()
        if self._buffered and now - self._flushed_at > self.flush_after_s:
            self.writer.flush()
            self._flushed_at, self._buffered = now, False

    def _write(self, line: dict[str, object], *, flush: bool = False) -> None:
        """Write one line; flushed (with all before it) when asked to or when the last flush is stale."""
        now = self._clock()
        flush = flush or now - self._flushed_at > self.flush_after_s
        self.writer.write_line(orjson.dumps(line), flush=flush)
        if flush:
            self._flushed_at = now
        self._buffered = not flush

    def op_start(self, op_id: str, kind: str, key: str | None) -> None:
        line: dict[str, object] = {"t": time.time(), "type": "op_start", "op_id": op_id, "kind": kind}
        if key is not None:
            line["key"] = key
        self._write(line)

    def attempt_start(self, op_id: str, attempt: int, twin_of: int | None = None) -> None:
        """Written and flushed before the attempt's request leaves."""
        line: dict[str, object] = {
            "t": time.time(),
            "type": "attempt_start",
            "op_id": op_id,
            "attempt": attempt,
        }
        if twin_of is not None:
            line["twin_of"] = twin_of
        self._write(line, flush=True)

    def attempt_end(
        self,
        op_id: str,
        attempt: int,
        outcome: AttemptOutcome,
        latency_s: float,
        *,
        status: int | None = None,
        resource_id: str | None = None,
        error: str | None = None,
    ) -> None:
        line: dict[str, object] = {
            "t": time.time(),
            "type": "attempt_end",
            "op_id": op_id,
            "attempt": attempt,
            "outcome": outcome,
        }
        _set_given(line, status=status, resource_id=resource_id, error=error)
        line["latency_s"] = latency_s
        self._write(line)

    def op_end(
        self,
        op_id: str,
        outcome: OpOutcome,
        attempts: int,
        *,
        status: int | None = None,
        resource_id: str | None = None,
    ) -> None:
        line: dict[str, object] = {
            "t": time.time(),
            "type": "op_end",
            "op_id": op_id,
            "outcome": outcome,
            "attempts": attempts,
        }
        _set_given(line, status=status, resource_id=resource_id)
        self._write(line)


def _set_given(line: dict[str, object], **fields: object) -> None:
    """Add the fields that are not ``None``, in order (the history's lines leave ``None`` out)."""
    for name, value in fields.items():
        if value is not None:
            line[name] = value
