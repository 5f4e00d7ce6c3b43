"""The HTTP face of Idempotency-Key handling: reading the header, fingerprinting, rendering outcomes.

The header is a Structured Field string in the IETF draft (`Idempotency-Key: "abc"`), while Stripe and
most clients send it bare (`Idempotency-Key: abc`); both are accepted and mean the same key.
"""

from __future__ import annotations

import json

from fastapi import Request
from fastapi.responses import Response

from targets.targetkit.idempotency import Outcome, Verdict, fingerprint
from targets.targetkit.keystore import StoredResponse
from targets.targetkit.problems import Problem, ProblemError, problem_response, problem_type

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


def parse_idempotency_key(raw: str | None) -> str:
    """The key from the header's value; raises `ProblemError` (400) if it is missing or unusable."""
    if raw is None:
        raise ProblemError(Problem(
            status=400, title="Idempotency-Key is missing", type=problem_type("idempotency-key-missing"),
            detail=f"This operation is idempotent only with an {IDEMPOTENCY_KEY_HEADER} header; "
                   "send a unique key and resend it unchanged on every retry.",
        ))
    key = raw.strip()
    if len(key) >= 2 and key.startswith('"') and key.endswith('"'):
        key = key[1:-1]
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ProblemError(Problem(
            status=400, title="Idempotency-Key is invalid", type=problem_type("idempotency-key-invalid"),
            detail=f"The {IDEMPOTENCY_KEY_HEADER} must be 1 to {MAX_KEY_LENGTH} characters long.",
        ))
    return key


async def request_fingerprint(request: Request) -> str:
    """FastAPI dependency: the fingerprint of the request's JSON body, every field included.

    Hashing the body as sent rather than the validated model means a retry that changes any field, even
    one the model ignores, counts as a different payload, as the draft asks.
    """
    body = await request.body()
    return fingerprint(json.loads(body) if body else None)


def json_response(status: int, payload: object) -> StoredResponse:
    """Serialise a response body once, so the stored copy and the first answer are the same bytes."""
    return StoredResponse(status, json.dumps(payload, separators=(",", ":")))


def outcome_response(outcome: Outcome) -> Response:
    """Render an `Outcome`: the stored response (marked if replayed) or a 409 / 422 problem."""
    if outcome.verdict is Verdict.IN_FLIGHT:
        return problem_response(Problem(
            status=409, title="Request in progress", type=problem_type("idempotency-key-in-flight"),
            detail="A request with this Idempotency-Key is still being processed; retry later.",
        ))
    if outcome.verdict is Verdict.PAYLOAD_MISMATCH:
        return problem_response(Problem(
            status=422, title="Idempotency-Key reused", type=problem_type("idempotency-key-reused"),
            detail="This Idempotency-Key was used with a different request payload.",
        ))
    assert outcome.response is not None
    headers = {REPLAYED_HEADER: "true"} if outcome.verdict is Verdict.REPLAYED else None
    return Response(outcome.response.body, status_code=outcome.response.status,
                    media_type="application/json", headers=headers)
