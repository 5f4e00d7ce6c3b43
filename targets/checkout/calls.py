"""One call of a saga step to a participant, retried within a budget, and what its outcome tells.

- `Succeeded`: a 2xx answer, first or replayed: the effect exists.
- `Refused`: a 4xx answer other than "key in flight": the participant decided, nothing happened.
- `Unknown`: every attempt timed out, failed to connect, or met a 5xx or a key still in flight: the
  effect may or may not exist, and may still appear later. Only a key makes asking again safe.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from targets.checkout.models import StepRequest
from targets.targetkit.http_idempotency import IDEMPOTENCY_KEY_HEADER
from targets.targetkit.problems import problem_type

IN_FLIGHT_TYPE = problem_type("idempotency-key-in-flight")


@dataclass(frozen=True)
class Succeeded:
    body: dict[str, Any]


@dataclass(frozen=True)
class Refused:
    status: int
    detail: str


@dataclass(frozen=True)
class Unknown:
    reason: str
    timed_out: bool


CallOutcome = Succeeded | Refused | Unknown


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int
    backoff_s: float
    give_up_on_timeout: bool = False  # the broken variant: a timeout ends the step at once
    max_backoff_s: float = 2.0

    def pause_before(self, attempt: int) -> float:
        """Exponential: a key still in flight is asked again later and later, not `attempts` times at once."""
        return min(self.backoff_s * 2.0 ** (attempt - 1), self.max_backoff_s)


SAGA_HEADER = "X-Saga-Id"
"""Sent on every call: lets a fault proxy on the hop name the saga a fault hit (participants ignore it)."""


def _attempt(client: httpx.Client, url: str, body: StepRequest, key: str | None) -> CallOutcome:
    headers = {IDEMPOTENCY_KEY_HEADER: key} if key else {}
    try:
        response = client.post(url, content=body.model_dump_json(), headers={
            **headers, SAGA_HEADER: body.saga_id, "Content-Type": "application/json"})
    except httpx.TimeoutException as error:
        return Unknown(f"POST {url} timed out ({type(error).__name__})", timed_out=True)
    except httpx.TransportError as error:
        return Unknown(f"POST {url} failed: {error!r}", timed_out=False)
    payload = _json(response)
    if response.is_success:
        return Succeeded(payload)
    if response.status_code >= 500 or payload.get("type") == IN_FLIGHT_TYPE:
        return Unknown(f"POST {url} answered {response.status_code}", timed_out=False)
    return Refused(response.status_code, str(payload.get("detail", response.text[:200])))


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def call(client: httpx.Client, url: str, body: StepRequest, key: str | None,
         policy: RetryPolicy) -> CallOutcome:
    """POST `body` to `url` until it succeeds or is refused, at most `policy.attempts` times."""
    outcome: CallOutcome = Unknown("not attempted", timed_out=False)
    for attempt in range(policy.attempts):
        if attempt:
            time.sleep(policy.pause_before(attempt))
        outcome = _attempt(client, url, body, key)
        if not isinstance(outcome, Unknown) or (outcome.timed_out and policy.give_up_on_timeout):
            return outcome
    return outcome
