"""Random cell folders for comparing ways of checking one: every kind of event, in every awkward order.

A cell here is what a run leaves: client events spread over the load's files (``history.jsonl`` and a
worker's ``history.<name>.jsonl``), fault-side events in ``faults.jsonl`` in the order the nemesis
learnt of them (not time order: toxic hits arrive in batches), and the effects. Operations retry,
double submit, give up unanswered, end without effects or with several, answer a replay with another
resource, or never begin (attempts for an op id with no start). Times are rounded so that events of
different operations and files tie, which is where ordering mistakes show. Sometimes a client file is
out of time order, or a line is written the way another writer might (``"attempt": 1.0``), to walk the
slow paths of the streaming reader.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from random import Random

from harness.checker import CellExpectations
from harness.history import (
    AttemptEnd,
    AttemptOutcome,
    AttemptStart,
    CrashEvent,
    CrashPlanEvent,
    Event,
    FaultEvent,
    OpEnd,
    OpOutcome,
    OpStart,
    RestartEvent,
    ToxicHit,
)
from harness.ledger import Effect

CLIENT_FILES = ("history.jsonl", "history.w1.jsonl")
FAULT_FILE = "faults.jsonl"
PER_REQUEST_TOXIC = "drop"

# (outcome, status, resource suffix or None, error or None) of one answered attempt
ANSWERS: list[tuple[AttemptOutcome, int | None, str | None, str | None]] = [
    ("ok", 201, "a", None),
    ("ok", 201, "b", None),
    ("ok", 200, "a", None),
    ("fail", 409, None, None),
    ("fail", None, None, "ConnectError: connection refused"),
    ("info", 503, None, None),
    ("info", None, None, "ReadTimeout: timed out"),
    ("info", None, None, "RemoteProtocolError: connection reset by peer"),
    ("info", None, None, "server disconnected without sending a response"),
    ("info", None, None, "something odd"),
    ("info", None, None, None),
]
OUTCOMES: list[OpOutcome] = ["acknowledged", "rejected", "unknown"]


@dataclass(frozen=True)
class Cell:
    """A written cell folder: its history files (in the order a cell lists them) and what to check."""

    paths: list[Path]
    effects: list[Effect]
    expect: CellExpectations
    context_s: float


def _time(rng: Random) -> float:
    return round(rng.uniform(0.0, 6.0) * 8) / 8  # eighths of a second: plenty of ties


def _operation(rng: Random, op_id: str) -> list[Event]:
    t = _time(rng)
    events: list[Event] = []
    if rng.random() < 0.9:
        events.append(OpStart(t=t, op_id=op_id, key=op_id if rng.random() < 0.5 else None))
    attempts = rng.choice([0, 1, 1, 1, 2, 2, 3, 4])
    double = attempts >= 2 and rng.random() < 0.25
    for number in range(1, attempts + 1):
        if not (double and number == 2):
            t += rng.choice([0.0, 0.125, 0.25])
        odd = rng.random() < 0.05
        attempt = rng.choice([number - 1, number + 2, 1]) if odd else number
        twin_of = 1 if double and number == 2 else None
        events.append(AttemptStart(t=t, op_id=op_id, attempt=attempt, twin_of=twin_of))
        if rng.random() < 0.85:
            outcome, status, suffix, error = rng.choice(ANSWERS)
            latency = rng.choice([0.0, 0.125, 0.5, 1.5])
            events.append(
                AttemptEnd(
                    t=t + latency,
                    op_id=op_id,
                    attempt=attempt,
                    outcome=outcome,
                    status=status,
                    resource_id=f"{op_id}-{suffix}" if suffix else None,
                    error=error,
                    latency_s=latency,
                )
            )
    if rng.random() < 0.85:
        status = rng.choice([None, 0, 201, 201, 409, 503])
        events.append(
            OpEnd(
                t=t + rng.choice([0.0, 0.5, 1.625]),
                op_id=op_id,
                outcome=rng.choice(OUTCOMES),
                attempts=attempts,
                status=status,
                resource_id=f"{op_id}-a" if status == 201 else None,
            )
        )
    return events


def _fault_side(rng: Random, op_ids: list[str]) -> list[Event]:
    events: list[Event] = []
    for name in rng.sample(["latency", PER_REQUEST_TOXIC], rng.randint(0, 2)):
        on = _time(rng)
        events.append(FaultEvent(t=on, name=name, action="on"))
        if rng.random() < 0.8:
            events.append(FaultEvent(t=on + rng.choice([0.5, 2.0]), name=name, action="off"))
    for _ in range(rng.choice([0, 0, 1, 3])):
        t = _time(rng)
        reason = rng.choice(["kill", "kill", "failpoint", "unexpected"])
        events.append(CrashEvent(t=t, reason=reason, planned_s=t if reason == "kill" else None))
        if rng.random() < 0.7:
            events.append(RestartEvent(t=t + 0.25, downtime_s=0.25))
    for _ in range(rng.choice([0, 0, 1, 2])):
        events.append(CrashPlanEvent(t=_time(rng), planned=rng.randint(0, 3), made=rng.randint(0, 3)))
    for _ in range(rng.choice([0, 0, 2, 6])):
        op_id = rng.choice([*op_ids, "stranger", None]) if op_ids else None
        events.append(ToxicHit(t=_time(rng), proxy="p", toxic=PER_REQUEST_TOXIC, op_id=op_id, action="reset"))
    if rng.random() < 0.2:
        events.append(FaultEvent(t=_time(rng), name="double_submit", action="fire"))
    return events


def _effects(rng: Random, op_ids: list[str]) -> list[Effect]:
    effects: list[Effect] = []
    for op_id in op_ids:
        for copy in range(rng.choice([0, 1, 1, 1, 2, 3])):
            effects.append(Effect(op_id, f"{op_id}-e{copy}", t=_time(rng) if rng.random() < 0.9 else None))
    effects += [Effect(f"orphan{n}", f"x{n}") for n in range(rng.choice([0, 0, 2]))]
    rng.shuffle(effects)
    return effects


def _line(rng: Random, event: Event) -> str:
    line = event.model_dump_json(exclude_none=True)
    if rng.random() < 0.03:  # another writer's spelling: the pydantic model reads it, the fast path not
        fields = json.loads(line)
        if "attempt" in fields:
            fields["attempt"] = float(fields["attempt"])
        line = json.dumps(fields)
    return line + "\n"


def write_cell(rng: Random, folder: Path) -> Cell:
    """A random cell's files in ``folder`` (which must be empty), and what to check them with."""
    op_ids = [f"op{index}" for index in range(rng.randint(0, 25))]
    files: dict[str, list[Event]] = {name: [] for name in (*CLIENT_FILES, FAULT_FILE)}
    for op_id in op_ids:
        files[rng.choice(CLIENT_FILES)] += _operation(rng, op_id)
    files[FAULT_FILE] = _fault_side(rng, op_ids)
    for name, events in files.items():
        in_order = name != FAULT_FILE and rng.random() < 0.9
        if in_order:
            events.sort(key=lambda event: event.t)
        else:
            rng.shuffle(events)
        text = "".join(_line(rng, event) for event in events)
        if rng.random() < 0.1:
            text += '{"t": 9.0, "type": "op_st'  # a torn last line: its writer was killed mid-write
        (folder / name).write_text(text, encoding="utf-8")
    paths = [folder / name for name in (*CLIENT_FILES, FAULT_FILE)]
    if rng.random() < 0.2:
        paths.append(folder / "history.absent.jsonl")
    expect = CellExpectations(
        fault_acts=rng.random() < 0.5,
        min_exposed=rng.choice([0, 1, 5]),
        min_acknowledged_rate=rng.choice([0.0, 0.5]),
        per_request_toxics=frozenset({PER_REQUEST_TOXIC}),
    )
    return Cell(paths, _effects(rng, op_ids), expect, rng.choice([0.0, 1.0, 2.5]))


_numbers = itertools.count()


def write_new_cell(rng: Random, parent: Path) -> Cell:
    """A random cell written in a new folder of its own under ``parent``."""
    folder = parent / f"cell{next(_numbers)}"
    folder.mkdir()
    return write_cell(rng, folder)
