"""``effects.json``: what a cell writes, ``harness report`` reads back as the same effects."""

from __future__ import annotations

import json

import msgspec
import pytest

from harness.ledger import Effect, decode_effects, encode_effects


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
