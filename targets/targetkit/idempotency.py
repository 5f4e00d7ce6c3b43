"""Idempotency-Key semantics (IETF httpapi draft, Stripe's behaviour), independent of HTTP.

For one key, in order:
1. Another request with the key is still running: `IN_FLIGHT` (HTTP 409), or `PAYLOAD_MISMATCH` (422) if
   its payload differs. In-flight keys live in memory: one process serves, and a crash rightly forgets
   them, since the crashed request either committed (its key row exists) or did not (it may run again).
2. A live stored record exists: `REPLAYED` with its status and body, or `PAYLOAD_MISMATCH` if the payload
   fingerprint differs from the one the key was first used with.
3. Otherwise the work runs and the effect and the key row commit in ONE transaction: `FRESH`.
Only completed responses are stored: a request that raises leaves no key behind and may be retried.
The executor runs on a plain SQLite `Database` (its writes get the `sqlite3.Connection`) or on any
`SqlStore`, SQLite or Postgres (its writes get the kit's `Sql`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from targets.targetkit.commit import commit_in
from targets.targetkit.failpoints import Failpoints
from targets.targetkit.keystore import DEFAULT_TTL_S, KeyStore, StoredResponse
from targets.targetkit.sql import Sql

Handle = TypeVar("Handle", sqlite3.Connection, Sql)
"""What a write gets inside the transaction: a raw SQLite connection or the kit's `Sql`."""
_Handle_co = TypeVar("_Handle_co", covariant=True)


class Transactional(Protocol[_Handle_co]):
    """A store with write transactions: `targetkit.sqlite.Database` or a `targetkit.sql.SqlStore`."""

    def transaction(self) -> AbstractContextManager[_Handle_co]: ...


def _as_sql(handle: sqlite3.Connection | Sql) -> Sql:
    return handle if isinstance(handle, Sql) else Sql("sqlite", handle.execute)


def fingerprint(payload: object) -> str:
    """SHA-256 of the canonical JSON of a payload, so key order and whitespace do not matter."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Verdict(enum.Enum):
    """What happened to one keyed request."""

    FRESH = "fresh"
    REPLAYED = "replayed"
    IN_FLIGHT = "in_flight"
    PAYLOAD_MISMATCH = "payload_mismatch"


@dataclass(frozen=True)
class Outcome:
    """A verdict and, for `FRESH` and `REPLAYED`, the response to send."""

    verdict: Verdict
    response: StoredResponse | None = None


class InFlightKeys:
    """Keys whose first request is still running, with their payload fingerprints; thread-safe."""

    def __init__(self) -> None:
        self._fingerprints: dict[str, str] = {}
        self._lock = threading.Lock()

    def claim(self, key: str, payload_fingerprint: str) -> str | None:
        """Claim `key`; returns None on success, or the fingerprint of the request already holding it."""
        with self._lock:
            holder = self._fingerprints.get(key)
            if holder is None:
                self._fingerprints[key] = payload_fingerprint
            return holder

    def release(self, key: str) -> None:
        with self._lock:
            self._fingerprints.pop(key, None)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._fingerprints


class IdempotentExecutor(Generic[Handle]):
    """Runs one operation (a `scope`, such as 'POST /charges') at most once per Idempotency-Key."""

    def __init__(self, db: Transactional[Handle], failpoints: Failpoints, scope: str,
                 ttl_s: float = DEFAULT_TTL_S, clock: Callable[[], float] = time.time) -> None:
        self._db: Transactional[Handle] = db
        self._failpoints = failpoints
        self._store = KeyStore(scope, ttl_s)
        self._clock = clock
        self.in_flight = InFlightKeys()

    def execute(self, key: str, payload_fingerprint: str, work: Callable[[], None],
                write: Callable[[Handle], StoredResponse]) -> Outcome:
        """Replay, refuse, or run `work` then commit `write`'s effect together with the key record.

        `work` runs outside any transaction (slow work must not hold SQLite's write lock) but inside
        the in-flight window, which is what a concurrent retry of the same key runs into. A `write`
        that raises (a 404 for a missing resource, say) stores no key: the request may come again.
        """
        holder = self.in_flight.claim(key, payload_fingerprint)
        if holder is not None:
            verdict = Verdict.IN_FLIGHT if holder == payload_fingerprint else Verdict.PAYLOAD_MISMATCH
            return Outcome(verdict)
        try:
            with self._db.transaction() as handle:
                now = self._clock()
                self._store.purge_expired(_as_sql(handle), now)
                record = self._store.find(_as_sql(handle), key, now)
            if record is not None:
                if record.fingerprint != payload_fingerprint:
                    return Outcome(Verdict.PAYLOAD_MISMATCH)
                return Outcome(Verdict.REPLAYED, record.response)
            work()

            def write_with_key(handle: Handle) -> StoredResponse:
                response = write(handle)
                self._store.save(_as_sql(handle), key, payload_fingerprint, response, self._clock())
                return response

            return Outcome(Verdict.FRESH, commit_in(self._db.transaction(), self._failpoints, write_with_key))
        finally:
            self.in_flight.release(key)
