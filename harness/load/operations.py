"""Logical operations: their ids, their exact request bytes, and the shared counter that hands them out.

Everything here is a pure function of the cell's seed and the operation's number, so the same
seed produces the same operations whichever user runs them and in whatever order; and an
operation's request is built once, so every retry resends the identical bytes and headers.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

IDEMPOTENCY_HEADER = "Idempotency-Key"
KEY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "idempotency-harness.invalid")
"""uuid5 namespace of Idempotency-Keys: a key depends only on the seed and the op id."""

CURRENCY = "EUR"
CUSTOMERS = 1000


def op_id_for(prefix: str, number: int) -> str:
    return f"{prefix}{number:06d}"


def idempotency_key(seed: int, op_id: str) -> str:
    return str(uuid.uuid5(KEY_NAMESPACE, f"{seed}/{op_id}"))


def operation_rng(seed: int, op_id: str, purpose: str) -> random.Random:
    """A random stream for one purpose of one operation (string seeds hash the same in every process)."""
    return random.Random(f"{seed}/{op_id}/{purpose}")


@dataclass(frozen=True)
class OperationRequest:
    """One logical operation's HTTP request, built once and resent unchanged by every attempt."""

    op_id: str
    number: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    key: str | None = None


def build_request(
    *, seed: int, prefix: str, number: int, amount_min: int, amount_max: int, send_key: bool
) -> OperationRequest:
    """The request of operation ``number``: a charge whose ``reference`` is the op id."""
    op_id = op_id_for(prefix, number)
    rng = operation_rng(seed, op_id, "body")
    payload = {
        "amount": rng.randint(amount_min, amount_max),
        "currency": CURRENCY,
        "customer": f"cus_{rng.randrange(CUSTOMERS):04d}",
        "reference": op_id,
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    key = idempotency_key(seed, op_id) if send_key else None
    if key is not None:
        headers[IDEMPOTENCY_HEADER] = key
    return OperationRequest(op_id, number, body, MappingProxyType(headers), key)


class OperationQueue:
    """Hands out operation numbers ``0..total-1`` exactly once across all users, and counts the ends.

    A lock rather than a bare counter: under gevent it costs nothing, and the same class stays
    correct if a caller ever uses real threads.
    """

    def __init__(self, total: int) -> None:
        if total < 0:
            raise ValueError(f"total must not be negative (got {total})")
        self.total = total
        self._next = 0
        self._completed = 0
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """The next operation number, or ``None`` once all have been handed out."""
        with self._lock:
            if self._next >= self.total:
                return None
            number = self._next
            self._next += 1
            return number

    def finish(self) -> None:
        with self._lock:
            self._completed += 1

    @property
    def started(self) -> int:
        return self._next

    @property
    def completed(self) -> int:
        return self._completed

    @property
    def done(self) -> bool:
        return self._completed >= self.total
