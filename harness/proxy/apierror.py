"""The one error type of the proxy's control API: a message and the HTTP status to answer with.

Kept apart from ``harness.errors`` on purpose: these are answers to a remote caller (serialised as
Toxiproxy's ``{"error": ..., "status": ...}``), not failures of a harness run.
"""

from __future__ import annotations


class ApiError(Exception):
    """A refusal of the control API, answered as JSON with this status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def to_json(self) -> dict[str, object]:
        return {"error": self.message, "status": self.status}


def bad_request(detail: str) -> ApiError:
    """Toxiproxy's wording for a body it cannot use."""
    return ApiError(400, f"bad request body: {detail}")


def missing_field(field: str) -> ApiError:
    return ApiError(400, f"missing required field: {field}")


PROXY_NOT_FOUND = "proxy not found"
PROXY_EXISTS = "proxy already exists"
TOXIC_NOT_FOUND = "toxic not found"
TOXIC_EXISTS = "toxic already exists"
INVALID_STREAM = "stream was invalid, can be either upstream or downstream"
INVALID_TOXIC_TYPE = "invalid toxic type"
