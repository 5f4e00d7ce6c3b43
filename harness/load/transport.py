"""Names for the ways an HTTP attempt can fail without an answer, read from ``requests`` exceptions.

``requests`` wraps urllib3, which wraps the socket error, so the cause that matters (refused,
reset, closed) sits a few links down a chain of ``__cause__``, ``__context__``, ``reason`` and
``args``. The history keeps short, stable texts ("connection reset") rather than reprs, so reports
can group attempts by what happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from http.client import RemoteDisconnected

import requests

from harness.load.retry import TransportFailure


@dataclass(frozen=True)
class FailureDescription:
    failure: TransportFailure
    text: str


def timeout_text(timeout_s: float) -> str:
    return f"timeout after {timeout_s:.2f} s"


def describe_error(error: BaseException, timeout_s: float) -> FailureDescription:
    """What kind of failure ``error`` is, and its text for the history."""
    causes = list(_causes(error))
    if any(isinstance(cause, requests.exceptions.Timeout | TimeoutError) for cause in causes):
        return FailureDescription("timeout", timeout_text(timeout_s))
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return FailureDescription("connection_refused", "connection refused")
    # RemoteDisconnected is a ConnectionResetError: the server closed cleanly, so name it first
    if any(isinstance(cause, RemoteDisconnected) for cause in causes):
        return FailureDescription("connection_error", "connection closed without a response")
    if any(isinstance(cause, ConnectionResetError) for cause in causes):
        return FailureDescription("connection_error", "connection reset")
    if any(isinstance(cause, BrokenPipeError) for cause in causes):
        return FailureDescription("connection_error", "broken pipe")
    if any(isinstance(cause, requests.exceptions.ChunkedEncodingError) for cause in causes):
        return FailureDescription("connection_error", "response cut short")
    return FailureDescription("connection_error", f"connection error: {type(error).__name__}: {error}")


def _causes(error: BaseException, depth: int = 0) -> Iterator[BaseException]:
    """``error`` and everything it wraps (bounded, since chains can in principle loop)."""
    if depth > 8:
        return
    yield error
    linked: list[object] = [error.__cause__, error.__context__, getattr(error, "reason", None)]
    linked.extend(error.args)
    for inner in linked:
        if isinstance(inner, BaseException) and inner is not error:
            yield from _causes(inner, depth + 1)
