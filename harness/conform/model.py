"""What a conformance check found: plain frozen values, so every report format reads the same facts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Exchange(NamedTuple):
    """One request and its answer as evidence: method, the key sent (None: no header), status, short body."""

    method: str
    key: str | None
    status: int
    body: str


@dataclass(frozen=True)
class ConformCheck:
    """One requirement of the Idempotency-Key draft, checked against the endpoint.

    ``passed`` is None when the endpoint's answers could not tell either way (the in-flight window was
    too short to observe, or the draft only asks for documentation): neither a pass nor a failure.
    """

    name: str
    passed: bool | None
    message: str
    evidence: tuple[Exchange, ...] = ()


@dataclass(frozen=True)
class ConformResult:
    """Every check run against one endpoint, in the order they ran."""

    url: str
    method: str
    checks: tuple[ConformCheck, ...]

    @property
    def passed(self) -> bool:
        """True when no check failed; checks that could not tell do not fail the endpoint."""
        return all(check.passed is not False for check in self.checks)
