"""An effect: one thing the target really committed, as its ledger shows it.

Its own small module, below the checkers and the probes alike: the checkers judge effects without
knowing how a probe read them (HTTP, SQL, SMTP, a callable: :mod:`harness.effects`). A cell keeps its
effects in ``effects.json``; :func:`decode_effects` reads that file back for ``harness report``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec


class Effect(msgspec.Struct, frozen=True, gc=False):
    """One effect the target committed; ``op_ref`` links it to the harness's ``op_id``.

    A msgspec ``Struct`` rather than a dataclass: a big cell has a million of these, and a struct made
    in C without the cyclic collector's header (it holds only strings and a float) costs 40 bytes
    where the dataclass cost 56, and is decoded from ``effects.json`` with no dict on the way."""

    op_ref: str
    resource_id: str
    t: float | None = None


_decode: Final = msgspec.json.Decoder(list[Effect]).decode


def decode_effects(data: bytes) -> list[Effect]:
    """The effects of an ``effects.json`` (a JSON list of ``{op_ref, resource_id, t}`` objects);
    raises :class:`msgspec.DecodeError` (a ``ValueError``) for anything else, a file cut short too."""
    return _decode(data)


def encode_effects(effects: Iterable[Effect]) -> bytes:
    """``effects`` as ``effects.json`` holds them: one indented JSON object each."""
    return msgspec.json.format(msgspec.json.encode(list(effects)), indent=1)
