"""Names for the ways an HTTP attempt can fail without an answer, read from the error it raised.

The load's connection (``connection.py``) raises the socket's own errors and the two below; a flow's
own code may wrap them, so the cause that matters (refused, reset, closed) can sit a few links down a
chain of ``__cause__``, ``__context__``, ``reason`` and ``args``. The history keeps short, stable
texts ("connection reset") rather than reprs, so reports can group attempts by what happened.

No gevent here, so tests can check these names in a process Locust has not patched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from http.client import RemoteDisconnected

from harness.load.retry import TransportFailure


class AnswerCutShort(ConnectionError):
    """The connection ended in the middle of an answer (after its first bytes)."""


class MalformedAnswer(ConnectionError):
    """What came back is not HTTP the parser can read."""


@dataclass(frozen=True)
class FailureDescription:
    failure: TransportFailure
    text: str


def timeout_text(timeout_s: float) -> str:
    return f"timeout after {timeout_s:.2f} s"


def describe_error(error: BaseException, timeout_s: float) -> FailureDescription:
    """What kind of failure ``error`` is, and its text for the history."""
    causes = list(_causes(error))
    if any(isinstance(cause, TimeoutError) for cause in causes):
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
    if any(isinstance(cause, AnswerCutShort) for cause in causes):
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
