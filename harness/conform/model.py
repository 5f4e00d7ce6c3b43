"""What a conformance check found: plain frozen values, so every report format reads the same facts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple


class Exchange(NamedTuple):
    """One request and its answer as evidence: method, the key sent (None: no header), status, short body.

    ``path`` and ``sent`` (the request's body, shortened) are given where requests go to several paths
    (the method checks); the Idempotency-Key checks send one request to one URL and leave them None.
    """

    method: str
    key: str | None
    status: int
    body: str
    path: str | None = None
    sent: str | None = None


class Contract(StrEnum):
    """What an endpoint was checked against: the Idempotency-Key draft, or the HTTP method table."""

    IDEMPOTENCY_KEY = "idempotency-key"
    METHODS = "methods"


@dataclass(frozen=True)
class ConformCheck:
    """One requirement of the contract, checked against the endpoint.

    ``passed`` is None when the endpoint's answers could not tell either way (the in-flight window was
    too short to observe, the draft only asks for documentation, or the user said the API does not
    support the method): neither a pass nor a failure.
    """

    name: str
    passed: bool | None
    message: str
    evidence: tuple[Exchange, ...] = ()


@dataclass(frozen=True)
class ConformResult:
    """Every check run against one endpoint, in the order they ran.

    ``method`` is the method checked against the Idempotency-Key draft, or, for the method table, the
    methods probed on the resource (``GET,HEAD,PUT``); ``url`` is then the resource's URL template.
    """

    url: str
    method: str
    checks: tuple[ConformCheck, ...]
    contract: Contract = Contract.IDEMPOTENCY_KEY

    @property
    def passed(self) -> bool:
        """True when no check failed; checks that could not tell do not fail the endpoint."""
        return all(check.passed is not False for check in self.checks)
