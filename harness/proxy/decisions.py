"""The per-request decisions a proxy's HTTP toxics took, each with the operation it hit.

Beyond Toxiproxy: its toxics decide once per connection and keep no record, so a harness could only
guess from time windows which requests a fault touched. Ours decide per request, and each decision
that took effect is kept here with the op id the request carried (the load's ``X-Harness-Op``), the
saga id (a saga orchestrator's ``X-Saga-Id``, on a hop to a participant) and the request's path, for
``GET /proxies/{name}/decisions``; the nemesis writes them into the cell's history. Bounded, so a
server left running for days keeps its memory: the oldest go first and are counted as lost.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from harness.opids import OP_HEADER, SAGA_HEADER
from harness.proxy.http1 import MessageHead

MAX_KEPT = 200_000
"""Decisions kept per proxy; a cell's load makes far fewer."""


@dataclass(frozen=True)
class ToxicDecision:
    """Toxic ``toxic`` did ``action`` (``detail``: how much) to a request of op ``op_id`` at ``t``.

    ``t`` is ``time.time()`` in the proxy's process; ``op_id`` is ``None`` without the op header,
    ``saga_id`` without the saga header; ``path`` is the request's target (empty: not known).
    """

    t: float
    toxic: str
    op_id: str | None
    action: str
    detail: str = ""
    saga_id: str | None = None
    path: str = ""

    @classmethod
    def on_request(
        cls, t: float, toxic: str, request: MessageHead | None, action: str, detail: str = ""
    ) -> ToxicDecision:
        """The decision as taken on ``request`` (None when the proxy cannot tell which request)."""
        if request is None:
            return cls(t, toxic, None, action, detail)
        return cls(
            t,
            toxic,
            request.header(OP_HEADER),
            action,
            detail,
            saga_id=request.header(SAGA_HEADER),
            path=request.target or "",
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToxicDecision:
        return cls(
            t=float(data["t"]),
            toxic=str(data["toxic"]),
            op_id=_optional_text(data.get("op_id")),
            action=str(data["action"]),
            detail=str(data.get("detail", "")),
            saga_id=_optional_text(data.get("saga_id")),
            path=str(data.get("path", "")),
        )


class DecisionLog:
    """One proxy's decisions in the order they were taken, the last ``max_kept`` of them."""

    def __init__(self, max_kept: int = MAX_KEPT) -> None:
        self._kept: deque[ToxicDecision] = deque(maxlen=max_kept)
        self.lost = 0

    def record(self, decision: ToxicDecision) -> None:
        if len(self._kept) == self._kept.maxlen:
            self.lost += 1
        self._kept.append(decision)

    def to_json(self) -> dict[str, object]:
        return {"decisions": [decision.to_json() for decision in self._kept], "lost": self.lost}


def _optional_text(value: object) -> str | None:
    return None if value is None else str(value)
