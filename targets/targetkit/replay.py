"""Answering a request whose key already has a stored response: replay it, or refuse a changed payload.

Shared by every strategy that finds the first response of a key somewhere (a key table, the effect's own
row, a Redis value), so all of them replay and refuse alike: 201 replayed with `Idempotent-Replayed`,
or 422 when the same key comes back with another payload.
"""

from __future__ import annotations

from dataclasses import dataclass

from targets.targetkit.idempotency import Outcome, Verdict
from targets.targetkit.keystore import StoredResponse


@dataclass(frozen=True)
class KeyedResponse:
    """The first completed response of a key and the payload fingerprint it was produced for."""

    fingerprint: str
    response: StoredResponse


def replay_or_refuse(found: KeyedResponse, payload_fingerprint: str) -> Outcome:
    if found.fingerprint != payload_fingerprint:
        return Outcome(Verdict.PAYLOAD_MISMATCH)
    return Outcome(Verdict.REPLAYED, found.response)
