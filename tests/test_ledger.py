"""``effects.json``: what a cell writes, ``harness report`` reads back as the same effects."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from harness.ledger import Effect, decode_effects, encode_effects, stream_effects

TRICKY = [  # op refs and resource ids with the chunks' cut mark and quotes inside
    Effect(f'op-{n}}},{{"x', f'r}},"{n}', t=n * 1.5 if n % 3 else None) for n in range(300)
]


def test_effects_written_are_read_back_equal() -> None:
    effects = [Effect("op-1", "ch_1", t=1.5), Effect("op-1", "ch_2"), Effect("op-2", "7", t=2.0)]

    assert decode_effects(encode_effects(effects)) == effects


def test_a_file_the_dataclass_era_wrote_is_read() -> None:
    rows = [
        {"op_ref": "op-1", "resource_id": "ch_1", "t": 3},
        {"op_ref": "op-2", "resource_id": "x", "t": None},
    ]

    assert decode_effects(json.dumps(rows, indent=1).encode()) == [
        Effect("op-1", "ch_1", t=3.0),
        Effect("op-2", "x"),
    ]


def test_a_file_cut_short_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        decode_effects(encode_effects([Effect("op-1", "ch_1")])[:-5])


def test_an_effect_is_frozen_and_hashable() -> None:
    effect = Effect("op-1", "ch_1")

    with pytest.raises(AttributeError):
        effect.op_ref = "op-2"  # type: ignore[misc]
    assert {effect, Effect("op-1", "ch_1")} == {effect}
    assert msgspec.structs.asdict(effect) == {"op_ref": "op-1", "resource_id": "ch_1", "t": None}


@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1000, 1 << 20])
@pytest.mark.parametrize(
    "data",
    [
        encode_effects(TRICKY),
        encode_effects([]),
        b" [ ]",
        b'[{"op_ref": "a", "resource_id": "b"},  \n ]',  # a comma with no effect after it
        b'[, {"op_ref": "a", "resource_id": "b"}]',
        b"{}",
        b"",
        encode_effects(TRICKY)[:-5],  # cut short
        encode_effects(TRICKY)[:2000],
        encode_effects(TRICKY).replace(b'"r},\\"7"', b"7"),  # one resource id not a string
    ],
    ids=range(10),
)
def test_streamed_effects_are_the_decoded_ones_or_the_same_rejection(
    tmp_path: Path, data: bytes, chunk_bytes: int
) -> None:
    path = tmp_path / "effects.json"
    path.write_bytes(data)
    try:
        expected: list[Effect] | str = decode_effects(data)
    except msgspec.DecodeError:
        expected = "rejected"
    try:
        streamed: list[Effect] | str = list(stream_effects(path, chunk_bytes))
    except msgspec.DecodeError:
        streamed = "rejected"

    assert streamed == expected
