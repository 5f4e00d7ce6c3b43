"""Multi-step flows: an operation kind run by a user's Python function instead of one request template.

A kind with ``flow: "module:function"`` calls that function once per *attempt* with a
:class:`FlowContext`; the function sends its requests through ``ctx.request`` and returns the
resource id (or ``None``). The attempt is classified like a single request: by the last request's
answer (its status, or the transport failure it raised), so the retry policy applies unchanged and
a retry re-runs the whole flow with the same ``ctx.key``.

This module imports no Locust (the scenario model imports it to check that a flow imports); the
Locust side (the sender behind ``ctx.request``) lives in ``user.py``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from harness.load.retry import Classification
from harness.template import Renderer


class FlowRequestError(Exception):
    """Raised by ``ctx.request`` when a request got no HTTP answer (timeout, reset, refused...).

    Letting it propagate ends the attempt with that failure's classification, as for one request.
    """

    def __init__(self, classification: Classification, text: str) -> None:
        super().__init__(text)
        self.classification = classification
        self.text = text


@dataclass(frozen=True)
class FlowResponse:
    """One answer to ``ctx.request``: status, decoded JSON body (``None`` if not JSON) and headers."""

    status: int
    json: Any
    headers: Mapping[str, str]


class Sender(Protocol):
    def __call__(
        self, method: str, path: str, json: object, headers: Mapping[str, str] | None
    ) -> FlowResponse: ...


class FlowContext:
    """What a flow function gets for one attempt of one operation.

    ``key`` is the op's idempotency key (the same for every attempt); ``rng`` and ``render`` are
    seeded by the op alone, so every attempt draws and renders the same values.
    """

    def __init__(
        self, op_id: str, key: str, attempt: int, rng: random.Random, renderer: Renderer, sender: Sender
    ) -> None:
        self.op_id = op_id
        self.key = key
        self.attempt = attempt
        self.rng = rng
        self._renderer = renderer
        self._sender = sender

    def render(self, template: object) -> Any:
        """A template rendered for this op: a string stays a string, a JSON value as a body would."""
        if isinstance(template, str):
            return self._renderer.text(template)
        return self._renderer.json(template)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> FlowResponse:
        """Send one request to the cell's base URL under the attempt's timeout.

        Raises :class:`FlowRequestError` when no answer came back (timeout, reset, refused).
        """
        return self._sender(method.upper(), path, json, headers)


FlowFunction = Callable[[FlowContext], object]
