"""A seeded, realistic cell folder for the checker benchmark: a client history, a fault history, effects.

Operations overlap in time as a pool of concurrent users makes them: each one starts a millisecond
after the last and takes tens of milliseconds, so events of many operations interleave in the file,
which is written in time order as :class:`~harness.history.HistoryWriter` writes it. A share of the
operations is retried (the first attempt times out, is reset or answered 503; the next one succeeds),
a share took effect twice (the duplicate effects the checker exists to find), and the fault history
holds a toxic switched on and off, a few kills with their restarts, and the crash plan.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from pathlib import Path
from random import Random

import orjson

from harness.cell import CLIENT_HISTORY, EFFECTS_FILE, FAULT_HISTORY
from harness.opids import op_id_prefix

START_T = 1_700_000_000.0
OP_SPACING_S = 0.001
FAILED_FIRST_ATTEMPTS = (  # (outcome, status, error) of a first attempt that is retried
    ("info", None, "ReadTimeout: timed out"),
    ("info", None, "RemoteProtocolError: connection reset by peer"),
    ("info", 503, None),
)
KILLS = 5


@dataclass(frozen=True)
class HistoryShape:
    """How many operations, and which share of them is retried and took effect twice."""

    operations: int
    retry_share: float = 0.2
    duplicate_share: float = 0.1
    seed: int = 7


@dataclass(frozen=True)
class WrittenCell:
    """What :func:`write_cell` wrote: the folder and how many history lines it holds."""

    folder: Path
    operations: int
    events: int


def _line(fields: dict[str, object]) -> str:
    return orjson.dumps(fields).decode() + "\n"


def _op_events(rng: Random, index: int, op_id: str, retried: bool) -> list[tuple[float, str]]:
    """The timed history lines of one operation, in its own order."""
    t = START_T + index * OP_SPACING_S
    lines = [(t, _line({"t": t, "type": "op_start", "op_id": op_id, "kind": "default", "key": op_id}))]
    attempts = 2 if retried else 1
    resource_id = f"ch_{index:08d}"
    for attempt in range(1, attempts + 1):
        t += rng.uniform(0.0005, 0.002)
        lines.append((t, _line({"t": t, "type": "attempt_start", "op_id": op_id, "attempt": attempt})))
        latency = rng.uniform(0.005, 0.05)
        t += latency
        end: dict[str, object] = {"t": t, "type": "attempt_end", "op_id": op_id, "attempt": attempt}
        if attempt < attempts:
            outcome, status, error = rng.choice(FAILED_FIRST_ATTEMPTS)
            end.update(outcome=outcome, status=status, error=error)
        else:
            end.update(outcome="ok", status=201, resource_id=resource_id)
        end["latency_s"] = round(latency, 6)
        lines.append((t, _line({key: value for key, value in end.items() if value is not None})))
    t += 0.0001
    lines.append(
        (
            t,
            _line(
                {
                    "t": t,
                    "type": "op_end",
                    "op_id": op_id,
                    "outcome": "acknowledged",
                    "attempts": attempts,
                    "status": 201,
                    "resource_id": resource_id,
                }
            ),
        )
    )
    return lines


def write_cell(folder: Path, shape: HistoryShape) -> WrittenCell:
    """Write ``history.jsonl``, ``faults.jsonl`` and ``effects.json`` of one cell into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = Random(shape.seed)
    prefix = op_id_prefix("bench", "naive", "crash")
    pending: list[tuple[float, int, str]] = []  # a heap of lines not yet due, by time then sequence
    sequence = 0
    events = 0
    effects: list[dict[str, object]] = []
    with (folder / CLIENT_HISTORY).open("w", encoding="utf-8") as history:
        for index in range(shape.operations):
            op_id = f"{prefix}{index}"
            now = START_T + index * OP_SPACING_S
            while pending and pending[0][0] <= now:
                history.write(heapq.heappop(pending)[2])
            for t, line in _op_events(rng, index, op_id, rng.random() < shape.retry_share):
                heapq.heappush(pending, (t, sequence, line))
                sequence += 1
                events += 1
            copies = 2 if rng.random() < shape.duplicate_share else 1
            effects += [
                {"op_ref": op_id, "resource_id": f"ch_{index:08d}-{n}", "t": now + 0.01}
                for n in range(copies)
            ]
        while pending:
            history.write(heapq.heappop(pending)[2])
    # a JSON array as the run writes it, one effect a line, so the benchmark can read it as a stream
    (folder / EFFECTS_FILE).write_bytes(
        b"[\n" + b",\n".join(orjson.dumps(effect) for effect in effects) + b"\n]\n"
    )
    events += _write_faults(folder / FAULT_HISTORY, shape.operations * OP_SPACING_S)
    return WrittenCell(folder, shape.operations, events)


def _write_faults(path: Path, duration_s: float) -> int:
    lines = [_line({"t": START_T, "type": "fault", "name": "latency", "action": "on", "detail": "50 ms"})]
    for kill in range(1, KILLS + 1):
        t = START_T + duration_s * kill / (KILLS + 1)
        lines.append(_line({"t": t, "type": "crash", "reason": "kill", "planned_s": t - START_T}))
        lines.append(_line({"t": t + 0.5, "type": "restart", "downtime_s": 0.5}))
    end = START_T + duration_s
    lines.append(_line({"t": end, "type": "fault", "name": "latency", "action": "off"}))
    lines.append(
        _line({"t": end, "type": "crash_plan", "planned": KILLS, "made": KILLS, "load_started_t": START_T})
    )
    path.write_text("".join(lines))
    return len(lines)
