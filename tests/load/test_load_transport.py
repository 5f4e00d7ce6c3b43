"""Transport failures get short, stable names in the history, read from the error's chain of causes."""

from __future__ import annotations

from http.client import RemoteDisconnected

import pytest

from harness.load.transport import (
    AnswerCutShort,
    FailureDescription,
    MalformedAnswer,
    describe_error,
    timeout_text,
)

RESET = "connection reset"


class FlowFailed(Exception):
    """What a flow's own code might wrap a transport error in."""


def wrapped(cause: BaseException) -> FlowFailed:
    error = FlowFailed("the flow gave up")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (TimeoutError("timed out"), FailureDescription("timeout", "timeout after 0.50 s")),
        (
            ConnectionRefusedError(111, "refused"),
            FailureDescription("connection_refused", "connection refused"),
        ),
        (ConnectionResetError(104, "reset"), FailureDescription("connection_error", RESET)),
        (wrapped(ConnectionResetError(104, "reset")), FailureDescription("connection_error", RESET)),
        (BrokenPipeError(32, "pipe"), FailureDescription("connection_error", "broken pipe")),
        (
            RemoteDisconnected("connection closed without a response"),
            FailureDescription("connection_error", "connection closed without a response"),
        ),
        (AnswerCutShort("incomplete"), FailureDescription("connection_error", "response cut short")),
        (
            MalformedAnswer("Expected HTTP/"),
            FailureDescription("connection_error", "connection error: MalformedAnswer: Expected HTTP/"),
        ),
        (ValueError("odd"), FailureDescription("connection_error", "connection error: ValueError: odd")),
    ],
)
def test_errors_are_named_by_their_root_cause(error: BaseException, expected: FailureDescription) -> None:
    assert describe_error(error, 0.5) == expected


def test_a_self_referencing_chain_does_not_loop() -> None:
    error = ValueError("loop")
    error.__context__ = RuntimeError("inner")
    error.__context__.__context__ = error
    assert describe_error(error, 1.0).failure == "connection_error"


def test_timeout_text_has_two_decimals() -> None:
    assert timeout_text(0.5) == "timeout after 0.50 s"
    assert timeout_text(2) == "timeout after 2.00 s"
