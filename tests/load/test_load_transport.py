"""Transport failures get short, stable names in the history, read through requests' wrapping."""

from __future__ import annotations

import socket
from http.client import RemoteDisconnected

import pytest
import requests
from urllib3.exceptions import ProtocolError

from harness.load.transport import FailureDescription, describe_error, timeout_text

RESET = "connection reset"


def aborted(cause: BaseException) -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(ProtocolError("Connection aborted.", cause))


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            requests.exceptions.ReadTimeout("read timed out"),
            FailureDescription("timeout", "timeout after 0.50 s"),
        ),
        (
            aborted(ConnectionResetError(104, "reset")),
            FailureDescription("connection_error", "connection reset"),
        ),
        (aborted(BrokenPipeError(32, "pipe")), FailureDescription("connection_error", "broken pipe")),
        (
            aborted(RemoteDisconnected("Remote end closed connection without response")),
            FailureDescription("connection_error", "connection closed without a response"),
        ),
        (
            requests.exceptions.ChunkedEncodingError("incomplete"),
            FailureDescription("connection_error", "response cut short"),
        ),
        (ValueError("odd"), FailureDescription("connection_error", "connection error: ValueError: odd")),
    ],
)
def test_errors_are_named_by_their_root_cause(error: BaseException, expected: FailureDescription) -> None:
    assert describe_error(error, 0.5) == expected


def test_a_real_refused_connection_is_named_refused() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        requests.post(f"http://127.0.0.1:{port}/charges", data=b"{}", timeout=2)
    assert describe_error(caught.value, 1.0) == FailureDescription("connection_refused", "connection refused")


def test_a_self_referencing_chain_does_not_loop() -> None:
    error = ValueError("loop")
    error.__context__ = RuntimeError("inner")
    error.__context__.__context__ = error
    assert describe_error(error, 1.0).failure == "connection_error"


def test_timeout_text_has_two_decimals() -> None:
    assert timeout_text(0.5) == "timeout after 0.50 s"
    assert timeout_text(2) == "timeout after 2.00 s"
