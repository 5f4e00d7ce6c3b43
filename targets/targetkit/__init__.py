"""Shared kit for the reference targets: configuration, failpoints, SQLite, Idempotency-Key handling.

A reference target is a small FastAPI service with a `naive` and an `idempotent` variant. The kit holds
everything that is not the target's own business:

- `config`: the command line and HARNESS_* environment every target accepts
- `failpoints`: seeded crash points; `commit`: the commit line with its standard failpoints
- `sqlite`: durable (WAL, synchronous=FULL) transactions
- `keystore`, `idempotency`, `http_idempotency`: the Idempotency-Key store, semantics and HTTP face
- `problems`: RFC 9457 errors; `web`: the app skeleton; `serving`: uvicorn
"""

from targets.targetkit.commit import commit_effect
from targets.targetkit.config import VARIANTS, TargetConfig, parse_config
from targets.targetkit.failpoints import (
    AFTER_COMMIT_BEFORE_RESPONSE,
    BEFORE_COMMIT,
    CRASH_EXIT_STATUS,
    Failpoints,
    parse_failpoints,
)
from targets.targetkit.http_idempotency import (
    IDEMPOTENCY_KEY_HEADER,
    REPLAYED_HEADER,
    json_response,
    outcome_response,
    parse_idempotency_key,
    request_fingerprint,
)
from targets.targetkit.idempotency import IdempotentExecutor, Outcome, Verdict, fingerprint
from targets.targetkit.keystore import KEYSTORE_SCHEMA, StoredResponse
from targets.targetkit.problems import Problem, ProblemError
from targets.targetkit.sqlite import Database
from targets.targetkit.web import new_app, simulated_work

__all__ = [
    "AFTER_COMMIT_BEFORE_RESPONSE",
    "BEFORE_COMMIT",
    "CRASH_EXIT_STATUS",
    "IDEMPOTENCY_KEY_HEADER",
    "KEYSTORE_SCHEMA",
    "REPLAYED_HEADER",
    "VARIANTS",
    "Database",
    "Failpoints",
    "IdempotentExecutor",
    "Outcome",
    "Problem",
    "ProblemError",
    "StoredResponse",
    "TargetConfig",
    "Verdict",
    "commit_effect",
    "fingerprint",
    "json_response",
    "new_app",
    "outcome_response",
    "parse_config",
    "parse_failpoints",
    "parse_idempotency_key",
    "request_fingerprint",
    "simulated_work",
]
