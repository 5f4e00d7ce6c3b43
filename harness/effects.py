"""Effects: what a target really did, read after the load has drained.

An effect is one row of the target's ledger (a charge, an order, a sent e-mail) with the op
reference the harness put into the request as business data. The checker counts effects per op.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import httpx

from harness.errors import ProbeError


@dataclass(frozen=True)
class Effect:
    """One effect the target committed; ``op_ref`` links it to the harness's ``op_id``."""

    op_ref: str
    resource_id: str
    t: float | None = None


class EffectsProbe(Protocol):
    """Reads the effects of a target. Small on purpose: fakes in unit tests are one class."""

    def read(self) -> list[Effect]: ...


class HttpLedgerProbe:
    """Reads effects from a JSON endpoint listing ``[{op_ref_field, id_field, ...}, ...]``.

    Talks to the target directly, never through the fault proxy: evidence must not be faulted.
    """

    def __init__(
        self,
        url: str,
        op_ref_field: str = "reference",
        id_field: str = "id",
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self.op_ref_field = op_ref_field
        self.id_field = id_field
        self.timeout_s = timeout_s

    def read(self) -> list[Effect]:
        try:
            response = httpx.get(self.url, timeout=self.timeout_s)
        except httpx.HTTPError as error:
            raise ProbeError(f"effects probe GET {self.url} failed: {error}") from error
        if response.status_code != 200:
            raise ProbeError(f"effects probe GET {self.url} answered HTTP {response.status_code}")
        try:
            rows = response.json()
        except ValueError as error:
            raise ProbeError(f"effects probe GET {self.url} did not return JSON") from error
        if not isinstance(rows, list):
            raise ProbeError(f"effects probe GET {self.url}: expected a JSON list of effects")
        effects = []
        for index, row in enumerate(rows):
            if not isinstance(row, dict) or self.op_ref_field not in row:
                raise ProbeError(
                    f"effects probe GET {self.url}: row {index} has no field {self.op_ref_field!r}"
                )
            effects.append(
                Effect(
                    op_ref=str(row[self.op_ref_field]),
                    resource_id=str(row.get(self.id_field, index)),
                    t=row.get("created_at") if isinstance(row.get("created_at"), float) else None,
                )
            )
        return effects


DRAIN_POLL_S = 0.1
DRAINED_READINGS = 2  # a queue can read empty for a moment while a message is on its way


def wait_until_drained(url: str, timeout_s: float) -> None:
    """Poll a target's ``{"pending": n}`` endpoint until it reads 0 twice in a row.

    Queue-backed targets (a mail worker, a message consumer) finish their work after the load has
    stopped; reading effects before then would count real work as lost.
    """
    deadline = time.monotonic() + timeout_s
    zero_readings = 0
    pending: object = "no answer"
    while time.monotonic() < deadline:
        try:
            pending = httpx.get(url, timeout=2.0).json().get("pending")
        except (httpx.HTTPError, ValueError, AttributeError):
            pending = "no answer"
        zero_readings = zero_readings + 1 if pending == 0 else 0
        if zero_readings >= DRAINED_READINGS:
            return
        time.sleep(DRAIN_POLL_S)
    raise ProbeError(f"target still busy after {timeout_s:.0f} s: GET {url} answered pending={pending}")
