"""The saga probe: wait (bounded) for a cell's sagas to settle, then read the orchestrator and each ledger.

A saga may still be moving when the load ends: a compensation retried with backoff, a step whose
answer was lost committing late, an orchestrator resuming after a restart. The probe polls until no
saga is pending *and* no participant's ledger has grown for ``quiet_s`` (a late charge lands after
its saga has already ended), or until ``settle_s`` is spent; then it reads everything once more and
says which of the two happened (:attr:`~harness.saga_evidence.SagaEvidence.settled`).

Where the sagas and ledgers come from is a :class:`SagaReader`. :class:`HttpSagaReader` reads the
JSON endpoints of the reference checkout target (``GET /sagas`` on the orchestrator, ``GET /ledger``
and ``GET /state`` on each participant); readers for a user's own saga (another JSON path, SQL, a
Python callable) implement the same three methods. A read that fails is recorded as that part's
error, never raised: the checkers then say ``unknown`` about what depends on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import msgspec

from harness.saga_evidence import (
    CHECKOUT_PARTICIPANTS,
    PENDING,
    LedgerRow,
    ParticipantRead,
    ParticipantRole,
    SagaEvidence,
    SagaRecord,
    StepAsk,
)

DEFAULT_QUIET_S = 1.0
"""How long every ledger must stay unchanged, with no saga pending, for the sagas to count as settled:
longer than the late commit of a step whose call timed out."""

POLL_S = 0.2


@dataclass(frozen=True)
class Levels:
    """A participant's current level per item, the level an item starts at, and the floor (or None)."""

    levels: Mapping[str, int]
    initial_level: int
    floor: int | None


class SagaReader(Protocol):
    """Reads one saga deployment's evidence; each method may raise when its source cannot be read."""

    def sagas(self) -> Sequence[SagaRecord]: ...

    def ledger(self, role: ParticipantRole) -> Sequence[LedgerRow]:
        """The participant's effect rows, oldest first."""
        ...

    def levels(self, role: ParticipantRole) -> Levels: ...


def checkout_asks(request: Mapping[str, Any]) -> tuple[StepAsk, ...]:
    """What the reference checkout's three steps ask for: the amount charged to the customer, the
    quantity of the sku reserved, one slot at the address booked."""
    return (
        StepAsk(1, str(request["customer"]), int(request["amount"])),
        StepAsk(2, str(request["sku"]), int(request["quantity"])),
        StepAsk(3, str(request["address"]), 1),
    )


class HttpSagaReader:
    """The checkout target's JSON endpoints, read directly with bounded timeouts."""

    def __init__(
        self,
        client: httpx.Client,
        orchestrator_url: str,
        participant_urls: Mapping[str, str],
        asks: Callable[[Mapping[str, Any]], tuple[StepAsk, ...]] = checkout_asks,
    ) -> None:
        self.client = client
        self.orchestrator_url = orchestrator_url.rstrip("/")
        self.participant_urls = {name: url.rstrip("/") for name, url in participant_urls.items()}
        self.asks = asks

    def _get(self, url: str) -> Any:
        response = self.client.get(url)
        response.raise_for_status()
        return response.json()

    def _participant_url(self, role: ParticipantRole) -> str:
        url = self.participant_urls.get(role.name)
        if url is None:
            raise LookupError(f"no URL was given for participant {role.name!r}")
        return url

    def sagas(self) -> list[SagaRecord]:
        return [
            SagaRecord(
                id=saga["id"],
                reference=saga["reference"],
                status=saga["status"],
                steps_done=tuple(saga["steps_done"]),
                compensations_done=tuple(saga["compensations_done"]),
                created_at=float(saga["created_at"]),
                asks=self.asks(saga["request"]),
            )
            for saga in self._get(f"{self.orchestrator_url}/sagas")
        ]

    def ledger(self, role: ParticipantRole) -> tuple[LedgerRow, ...]:
        rows = self._get(f"{self._participant_url(role)}/ledger")
        return msgspec.convert(rows, type=tuple[LedgerRow, ...])

    def levels(self, role: ParticipantRole) -> Levels:
        state = self._get(f"{self._participant_url(role)}/state")
        return Levels(
            {str(item): int(level) for item, level in state["levels"].items()},
            int(state["initial_level"]),
            None if state["floor"] is None else int(state["floor"]),
        )


def _failure(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"


def _progress(reader: SagaReader, roles: Sequence[ParticipantRole]) -> tuple[int, tuple[int, ...]] | None:
    """Sagas pending and rows per ledger: unchanged for a while with none pending means settled;
    None when a read failed (never settled on that)."""
    try:
        pending = sum(saga.status == PENDING for saga in reader.sagas())
        return pending, tuple(len(reader.ledger(role)) for role in roles)
    except Exception:  # any reader's failure: not settled yet; the final read records why
        return None


def wait_for_settling(
    reader: SagaReader,
    roles: Sequence[ParticipantRole],
    settle_s: float,
    quiet_s: float = DEFAULT_QUIET_S,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[float, bool]:
    """Poll until no saga is pending and no ledger has grown for ``quiet_s``, or ``settle_s`` is spent:
    the seconds waited, and whether the sagas settled."""
    start = clock()
    deadline = start + settle_s
    seen: tuple[int, tuple[int, ...]] | None = None
    unchanged_since = start
    while True:
        mark = _progress(reader, roles)
        now = clock()
        if mark != seen or mark is None:
            seen, unchanged_since = mark, now
        if mark is not None and mark[0] == 0 and now - unchanged_since >= quiet_s:
            return now - start, True
        if now >= deadline:
            return now - start, False
        sleep(max(0.0, min(poll_s, deadline - now)))


def _read_participant(reader: SagaReader, role: ParticipantRole) -> ParticipantRead:
    try:
        rows = tuple(reader.ledger(role))
        levels = reader.levels(role)
    except Exception as error:  # any reader's failure is this participant's unknown, never a crash
        return ParticipantRead(role, error=_failure(error))
    return ParticipantRead(role, rows, dict(levels.levels), levels.initial_level, levels.floor)


def probe_sagas(
    reader: SagaReader,
    roles: Sequence[ParticipantRole],
    settle_s: float,
    quiet_s: float = DEFAULT_QUIET_S,
    poll_s: float = POLL_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SagaEvidence:
    """Wait for the sagas to settle (at most ``settle_s``), then read the orchestrator and every ledger."""
    waited, settled = wait_for_settling(reader, roles, settle_s, quiet_s, poll_s, clock, sleep)
    participants = tuple(_read_participant(reader, role) for role in roles)
    try:
        sagas, error = tuple(reader.sagas()), None
    except Exception as failure:  # any reader's failure: the sagas are unknown, the checkers say so
        sagas, error = (), _failure(failure)
    return SagaEvidence(sagas, participants, settle_s, waited, settled, error)


def read_saga_evidence(
    orchestrator_url: str,
    participant_urls: Mapping[str, str],
    settle_s: float,
    *,
    roles: Sequence[ParticipantRole] = CHECKOUT_PARTICIPANTS,
    quiet_s: float = DEFAULT_QUIET_S,
    timeout_s: float = 5.0,
) -> SagaEvidence:
    """Read a checkout-shaped saga over HTTP: the orchestrator at ``orchestrator_url``, each participant
    at ``participant_urls[role.name]`` (direct addresses, not the fault proxy's), each request within
    ``timeout_s``, after waiting at most ``settle_s`` for the sagas to settle."""
    with httpx.Client(timeout=timeout_s) as client:
        reader = HttpSagaReader(client, orchestrator_url, participant_urls)
        return probe_sagas(reader, roles, settle_s, quiet_s)
