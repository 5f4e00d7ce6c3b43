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
killed. Ends follow with the next start, or when the writer closes.
"""

from __future__ import annotations

import time

import orjson

from harness.history import AttemptOutcome, HistoryWriter, OpOutcome


class ClientHistory:
    """Writes one load process's client events to its :class:`~harness.history.HistoryWriter`."""

    def __init__(self, writer: HistoryWriter) -> None:
        self.writer = writer

    def op_start(self, op_id: str, kind: str, key: str | None) -> None:
        line: dict[str, object] = {"t": time.time(), "type": "op_start", "op_id": op_id, "kind": kind}
        if key is not None:
            line["key"] = key
        self.writer.write_line(orjson.dumps(line), flush=False)

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
        self.writer.write_line(orjson.dumps(line))

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
        self.writer.write_line(orjson.dumps(line), flush=False)

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
        self.writer.write_line(orjson.dumps(line), flush=False)


def _set_given(line: dict[str, object], **fields: object) -> None:
    """Add the fields that are not ``None``, in order (the history's lines leave ``None`` out)."""
    for name, value in fields.items():
        if value is not None:
            line[name] = value
