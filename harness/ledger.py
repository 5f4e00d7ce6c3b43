"""An effect: one thing the target really committed, as its ledger shows it.

Its own small module, below the checkers and the probes alike: the checkers judge effects without
knowing how a probe read them (HTTP, SQL, SMTP, a callable: :mod:`harness.effects`). A cell keeps its
effects in ``effects.json``; :func:`decode_effects` reads that file back for ``harness report``, and
:func:`stream_effects` reads it a chunk at a time for the checker.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
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


EFFECTS_CHUNK_BYTES: Final = 1024 * 1024
"""How much of ``effects.json`` is read at a time: ten thousand effects or so."""

_ONE_MORE: Final = b"},"
"""Where a chunk may end: after an effect, before the comma leading to the next one."""


def stream_effects(path: Path, chunk_bytes: int = EFFECTS_CHUNK_BYTES) -> Iterator[Effect]:
    """The effects of ``path`` as :func:`decode_effects` reads them, decoded a chunk at a time, so a
    million of them are never held at once with their own op-id strings (the checker points each
    at its operation's as it comes). A file :func:`decode_effects` rejects raises the same
    :class:`msgspec.DecodeError`, only once the effects before the fault have been handed on."""
    return itertools.chain.from_iterable(_effect_chunks(path, chunk_bytes))


def _effect_chunks(path: Path, chunk_bytes: int) -> Iterator[list[Effect]]:
    """Lists of effects in file order. A chunk is cut after an effect's ``}`` and before a comma
    and decoded as a list of its own; a cut that fell inside a string cannot decode (its quotes do
    not pair up), so the chunk just grows until a cut decodes, or to the end of the file, which is
    decoded whole: whether a file is accepted never depends on where it was cut."""
    with path.open("rb") as file:
        pending = file.read(chunk_bytes)
        if not pending.lstrip().startswith(b"["):  # no list at all: let the decoder say why
            yield _decode(pending + file.read())
            return
        cut_before = False  # a comma was cut away: the rest must hold an effect
        while block := file.read(chunk_bytes):
            pending += block
            end = pending.rfind(_ONE_MORE) + 1
            if not end:
                continue
            try:
                effects = _decode(pending[:end] + b"]")
            except msgspec.DecodeError:  # the cut is inside a string, or the file is broken: read on
                continue
            yield effects
            pending = b"[" + pending[end + 1 :]
            cut_before = True
        rest = _decode(pending)
        if cut_before and not rest:
            raise msgspec.DecodeError("Expected an effect after the comma")
        yield rest


def encode_effects(effects: Iterable[Effect]) -> bytes:
    """``effects`` as ``effects.json`` holds them: one indented JSON object each."""
    return msgspec.json.format(msgspec.json.encode(list(effects)), indent=1)
