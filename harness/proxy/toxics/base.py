"""The toxic seam: one class per fault, one ``pipe`` method, attributes as a pydantic model.

A toxic instance is built from the API's JSON once and shared by every connection of its proxy;
anything per connection lives in ``stub.state``. Optional powers are class attributes checked only
where needed, as Toxiproxy's small extra interfaces are:

* ``per_request``: the toxic decides ``toxicity`` itself for each HTTP request, so the chain always
  includes it (a TCP toxic is included or not once per connection, from ``toxicity``);
* ``needs_request_log``: the toxic frames responses and needs the methods of the requests forwarded
  on the same connection (a response to HEAD has no body);
* ``fixed_stream``: the direction the toxic acts on whatever stream the caller named (responses are
  dropped downstream; an error is answered instead of forwarding a request upstream);
* ``cleanup(stub)``: called when the toxic leaves a live connection, to hand on what it still holds
  (``timeout``, which dropped bytes, ends the connection instead).
"""

from __future__ import annotations

import random
from typing import ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from harness.proxy.stub import Direction, ToxicStub

MAX_MS = 3_600_000
"""One hour: the largest time attribute accepted; anything longer is a typo, not a test."""


class Attributes(BaseModel):
    """Base of every toxic's attributes: strict types (1.5 is not a byte count), no unknown names."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


A = TypeVar("A", bound=Attributes)


class Toxic(Generic[A]):
    """One fault. Subclasses set ``model`` and implement ``pipe``."""

    type_name: ClassVar[str] = ""
    model: ClassVar[type[Attributes]] = Attributes
    per_request: ClassVar[bool] = False
    needs_request_log: ClassVar[bool] = False
    fixed_stream: ClassVar[Direction | None] = None

    def __init__(self, attrs: A) -> None:
        self.attrs = attrs
        # one random source per toxic, shared by its connections: with a ``seed`` attribute the
        # sequence of decisions repeats for the same order of requests
        self.rng = random.Random(getattr(attrs, "seed", None))

    async def pipe(self, stub: ToxicStub) -> None:
        """Move the direction's bytes from ``stub`` input to output, applying the fault."""
        raise NotImplementedError

    def cleanup(self, stub: ToxicStub) -> None:
        """The toxic was removed from a live connection: hand on anything kept in ``stub.state``."""
