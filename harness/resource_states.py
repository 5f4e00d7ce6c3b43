"""Resource states read after a cell's load: the evidence the HTTP method contract is judged on.

PUT, PATCH, DELETE, GET and HEAD act on a resource the operation made first. Whether retries broke
their contract shows in the resource, not in a count of rows: after every attempt has ended, the
harness reads each resource directly (never through the fault proxy) and, beside it, a *twin*: a
resource made by the same request, with the operation's own request applied exactly once (PUT,
PATCH, DELETE) or not at all (GET, HEAD), without faults. If the method kept its contract, the
resource and its twin read the same (but for the fields that name the resource itself).

One JSON line per operation in the cell's ``states.jsonl``, written by the cell after the effects
are read (so the twins' own effects are never counted) and read by the method checkers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from harness.errors import HistoryError

STATES_FILE = "states.jsonl"

SAFE_METHODS = frozenset({"GET", "HEAD"})
"""Methods the twin is not applied for: a safe method must leave the state as it found it."""


@dataclass(frozen=True)
class ResourceRead:
    """One direct GET of a resource: its status and its JSON body (``None``: no JSON body)."""

    status: int | None
    body: Any = None
    error: str | None = None
    """Why no answer came (the read failed); ``status`` is then ``None``."""


@dataclass(frozen=True)
class ResourceState:
    """What one operation's resource and its twin read as after the load.

    ``ignored`` lists the top-level fields left out of the comparison: the id field and what the
    scenario's ``resource.state.ignore`` names (timestamps, the resource's own URL).
    """

    op_id: str
    kind: str
    method: str
    resource: str
    path: str
    after: ResourceRead
    twin: ResourceRead | None
    twin_resource: str | None = None
    twin_applied: bool = False
    ignored: tuple[str, ...] = field(default_factory=tuple)

    def compared(self, read: ResourceRead) -> Any:
        """``read``'s body without the ignored fields (bodies that are not objects compare whole)."""
        body = read.body
        if isinstance(body, dict):
            return {name: value for name, value in body.items() if name not in self.ignored}
        return body

    def matches_twin(self) -> bool | None:
        """Whether the resource reads as its twin does; ``None`` when either read failed."""
        if self.twin is None or self.after.status is None or self.twin.status is None:
            return None
        return self.after.status == self.twin.status and self.compared(self.after) == self.compared(self.twin)


def state_line(state: ResourceState) -> bytes:
    return orjson.dumps(asdict(state)) + b"\n"


def write_states(path: Path, states: Iterable[ResourceState]) -> None:
    with path.open("wb") as out:
        for state in states:
            out.write(state_line(state))


def _read(raw: Any) -> ResourceRead | None:
    return None if raw is None else ResourceRead(**raw)


def read_states(path: Path) -> Iterator[ResourceState]:
    """The states of a cell's ``states.jsonl`` (none when the file is absent: no method operations)."""
    if not path.exists():
        return
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            try:
                raw = orjson.loads(line)
                raw["after"] = _read(raw["after"])
                raw["twin"] = _read(raw.get("twin"))
                raw["ignored"] = tuple(raw.get("ignored", ()))
                yield ResourceState(**raw)
            except (orjson.JSONDecodeError, KeyError, TypeError) as error:
                raise HistoryError(path, number, f"not a resource state: {error}") from None
