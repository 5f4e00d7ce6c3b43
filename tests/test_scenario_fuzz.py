"""Fuzzed scenario files through ``harness validate``: each is valid (exit 0) or refused in one line (exit 2).

A seeded generator, so a failure reproduces: it mutates shipped scenarios as text (bytes flipped,
cut, spliced) and as data (a field replaced by a hostile value), a few hundred files in a few seconds.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.errors import EXIT_COULD_NOT_RUN, EXIT_OK
from harness.paths import REPO_ROOT

CASES = 300
TIME_BOUND_S = 120.0  # the whole batch: a file that takes seconds to refuse is a bug in itself

SEEDS = [REPO_ROOT / "scenarios" / name for name in ("payments.yaml", "orders.yaml", "mailer.yaml")]

HOSTILE_VALUES: list[Any] = [
    None, True, -1, 0, 10**30, -(10**30), 1e308, float("inf"), float("nan"), "", "x" * 300, "../../x",
    "a/b", "{port}", "{", "[/]", "\x00", "\t", "é", [], {}, [[[[[]]]]], {"a": {"b": {"c": {}}}},
    ["../x", None], {"../x": 1}, {1: 2}, "2020-01-01", b"\x00\xff",
]  # fmt: skip

TOKENS = ["&a ", "*a", "!!python/object:os.system ", "!!binary x", "<<: *a", "{", "]", ": :", "- - -",
          "\t", "'", '"', "---\n", "...", "? ", "%YAML 1.1\n", "\\0", "\x85", "\ufeff"]  # fmt: skip


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in the document a value sits, as a key path."""
    found = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*prefix, index))
    return found


def _replaced(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict):
        return {**data, head: _replaced(data[head], rest, value)}
    return [*data[:head], _replaced(data[head], rest, value), *data[head + 1 :]]


def _data_mutant(rng: random.Random, text: str) -> bytes:
    """The scenario with one value replaced by a hostile one (or a key renamed), dumped again."""
    data = yaml.safe_load(text)
    path = rng.choice(_paths(data)[1:])
    if rng.random() < 0.3 and isinstance(path[-1], str):  # a key renamed to a hostile name
        container = data
        for key in path[:-1]:
            container = container[key]
        container[str(rng.choice(HOSTILE_VALUES))] = container.pop(path[-1])
        return yaml.safe_dump(data, allow_unicode=rng.random() < 0.5).encode()
    mutated = _replaced(data, path, rng.choice(HOSTILE_VALUES))
    return yaml.dump(mutated, allow_unicode=rng.random() < 0.5).encode()


def _text_mutant(rng: random.Random, text: str) -> bytes:
    """The scenario's bytes flipped, cut, spliced with YAML tokens, or re-encoded."""
    data = bytearray(text.encode())
    kind = rng.randrange(5)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        del data[rng.randrange(len(data)) :]
    elif kind == 2:
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            data[at:at] = rng.choice(TOKENS).encode()
    elif kind == 3:
        return text.encode(rng.choice(["utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252"]), "replace")
    else:
        lines = text.splitlines(keepends=True)
        rng.shuffle(lines)
        return "".join(lines).encode()
    return bytes(data)


def mutants(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    texts = [path.read_text() for path in SEEDS]
    return [
        (_data_mutant if rng.random() < 0.5 else _text_mutant)(rng, rng.choice(texts)) for _ in range(count)
    ]


@pytest.mark.parametrize("seed", [12])
def test_fuzzed_scenarios_exit_0_or_2_in_one_line(
    seed: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deadline = time.monotonic() + TIME_BOUND_S
    statuses: list[int] = []
    for index, content in enumerate(mutants(seed, CASES)):
        path = tmp_path / f"case{index}.yaml"
        path.write_bytes(content)
        status = main(["validate", str(path)])  # anything but a HarnessError propagates and fails here
        stderr = capsys.readouterr().err
        assert status in (EXIT_OK, EXIT_COULD_NOT_RUN), (index, content[:200])
        assert len(stderr.strip().splitlines()) == (0 if status == EXIT_OK else 1), (index, stderr)
        statuses.append(status)
        assert time.monotonic() < deadline, f"{index} of {CASES} files in {TIME_BOUND_S} s"
    assert statuses.count(EXIT_COULD_NOT_RUN) > CASES // 2, "the mutants should mostly be refused"
