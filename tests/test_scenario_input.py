"""Bad input in a scenario file is refused when it loads, in one line naming the file and the field.

Names become folders and proxy names, so they are identifiers; the YAML is bounded in size, depth
and what its aliases expand to; and every value a run needs is checked before anything starts.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenario import load_scenario
from harness.scenario._base import identifier_problem
from harness.scenario.yamlfile import MAX_DEPTH, MAX_DOCUMENT_BYTES

MINIMAL = """
name: t
target: {name: payments}
faults: {none: {}}
"""


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "s.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def refusal(tmp_path: Path, text: str | bytes) -> str:
    """The one-line message loading ``text`` gives; it must name the file."""
    with pytest.raises(ScenarioError) as caught:
        load_scenario(write(tmp_path, text))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 's.yaml'}: "), message
    assert "\n" not in message
    return message


BAD_NAMES = [
    "../../x",
    "a/b",
    "/abs",
    "..",
    "a..b",
    ".hidden",
    "-dash",
    "has space",
    "x" * 300,
    "tab\tname",
    "",
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize(
    ("place", "field"),
    [
        ("name: {name}\ntarget: {{name: payments}}\nfaults: {{none: {{}}}}\n", "name"),
        ("name: t\ntarget: {{name: payments}}\nfaults: {{{name}: {{}}}}\n", "faults"),
        (
            "name: t\ntarget: {{name: payments, variants: [{name}]}}\nfaults: {{none: {{}}}}\n",
            "target.variants.0",
        ),
        (
            "name: t\ntarget: {{name: payments, variants: {{{name}: {{}}}}}}\nfaults: {{none: {{}}}}\n",
            "target.variants.0",
        ),
        (
            "name: t\ntarget: {{name: payments, operations: [{{name: {name}}}]}}\nfaults: {{none: {{}}}}\n",
            "target.operations.0.name",
        ),
        (
            "name: t\ntarget: {{name: payments}}\n"
            "faults: {{f: {{toxics: [{{type: latency, name: {name}}}]}}}}\n",
            "faults.f.toxics.0.name",
        ),
        (
            "name: t\ntarget: {{command: [x, '{{port}}']}}\nfaults: {{f: {{failpoints: {{{name}: 1}}}}}}\n",
            "faults.f.failpoints",
        ),
        ("name: t\ntarget: {{name: {name}}}\nfaults: {{none: {{}}}}\n", "target.name"),
    ],
)
def test_names_are_identifiers(tmp_path: Path, place: str, field: str, name: str) -> None:
    quoted = '"' + name.replace("\t", "\\t") + '"'
    message = refusal(tmp_path, place.format(name=quoted))
    assert f": {field}: " in message, message
    assert "letters, digits" in message or "text" in message, message
    assert len(message) < 400, "a 300-character name is shortened in the message"


@pytest.mark.parametrize(
    "text",
    [
        "name: t\ntarget: {name: payments, variants: [a--b]}\nfaults: {c: {}}\n",
        "name: t\ntarget: {name: payments, variants: [a]}\nfaults: {b--c: {}}\n",
    ],
)
def test_cell_names_cannot_collide(tmp_path: Path, text: str) -> None:
    """``a--b`` × ``c`` and ``a`` × ``b--c`` would share one cell folder and one proxy."""
    assert "'--' separates variant and fault" in refusal(tmp_path, text)


def test_a_nul_in_a_name_is_refused_by_the_rule_too() -> None:
    """The YAML reader refuses a NUL first; a model validated from Python still does."""
    assert identifier_problem("a\x00b") is not None
    assert identifier_problem("payments.v2_final-1") is None


def test_the_longest_names_still_make_a_valid_proxy_name(tmp_path: Path) -> None:
    """The run names a cell's proxy ``<scenario>-<variant>--<fault>``: no '/', '{' or '}' can get in."""
    name = "a" * 64
    text = f"name: {name}\ntarget: {{name: payments, variants: [{name}]}}\nfaults: {{{name}: {{}}}}\n"
    scenario = load_scenario(write(tmp_path, text))
    for variant, fault in scenario.cells():
        proxy_name = f"{scenario.name}-{variant}--{fault}"
        assert re.fullmatch(r"[A-Za-z0-9._-]+", proxy_name), proxy_name


ALIAS_BOMB = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_an_alias_bomb_is_refused_fast(tmp_path: Path) -> None:
    started = time.monotonic()
    message = refusal(tmp_path, ALIAS_BOMB)
    assert "expands to more than" in message
    assert time.monotonic() - started < 5


def test_a_recursive_alias_is_refused(tmp_path: Path) -> None:
    assert "contains it" in refusal(tmp_path, MINIMAL + "description: &d [*d]\n")


def test_a_chain_of_aliases_deeper_than_the_bound_is_refused(tmp_path: Path) -> None:
    chain = "\n".join(f"x{i}: &x{i} [*x{i - 1}]" for i in range(1, MAX_DEPTH + 5))
    assert "nested deeper than" in refusal(tmp_path, "x0: &x0 [1]\n" + chain + "\n")


def test_aliases_within_bounds_still_work(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "faults: {none: {}}", "faults:\n  a: &slow {toxics: [{type: latency}]}\n  b: *slow"
    )
    assert list(load_scenario(write(tmp_path, text)).faults) == ["a", "b"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 20_000])
def test_deep_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    assert "nested deeper than" in refusal(
        tmp_path, MINIMAL + "description: " + "[" * depth + "]" * depth + "\n"
    )


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    assert "larger than" in refusal(tmp_path, MINIMAL + "#" * MAX_DOCUMENT_BYTES + "\n")


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (MINIMAL.encode("utf-16"), "UTF-16"),
        (MINIMAL.encode("utf-16-le"), "NUL"),
        ((MINIMAL + "description: café\n").encode("latin-1"), "not UTF-8 text (byte 0xe9"),
        (bytes(range(256)) * 4, "NUL"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "NUL"),
        (MINIMAL.encode() + b"description: a\x00b\n", "NUL"),
        ((MINIMAL + 'description: "a\\0b"\n').encode(), "NUL"),
        (MINIMAL.encode() + b"description: a\x1fb\n", "line 5: not valid YAML: control character"),
    ],
)
def test_files_that_are_not_utf8_text_are_refused(tmp_path: Path, data: bytes, needle: str) -> None:
    assert needle in refusal(tmp_path, data)


def test_a_utf8_bom_is_fine(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, b"\xef\xbb\xbf" + MINIMAL.encode())).name == "t"


def test_a_tagged_value_python_refuses_is_one_line(tmp_path: Path) -> None:
    assert "not valid YAML" in refusal(tmp_path, MINIMAL + "description: !!timestamp 2020-99-99\n")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ("load: {spawn_rate: .inf}\n", "load.spawn_rate"),
        ("load: {spawn_rate: .nan}\n", "load.spawn_rate"),
        ("load: {spawn_rate: 1e9}\n", "load.spawn_rate"),
        ("load: {double_submit: .nan}\n", "load.double_submit"),
        ("load: {retry: {backoff_base_s: .nan}}\n", "load.retry.backoff_base_s"),
        ("faults: {f: {failpoints: {before_commit: .nan}}}\n", "faults.f.failpoints"),
        ("faults: {f: {crashes: {min_interval_s: .inf}}}\n", "faults.f.crashes.min_interval_s"),
        ("faults: {f: {crashes: {first_after_s: 1e300}}}\n", "faults.f.crashes.first_after_s"),
        ("faults: {f: {toxics: [{type: latency, toxicity: .nan}]}}\n", "faults.f.toxics.0.toxicity"),
        (
            "faults: {f: {toxics: [{type: latency, attributes: {latency: -5}}]}}\n",
            "faults.f.toxics.0.attributes",
        ),
        (
            "faults: {f: {toxics: [{type: latency, attributes: {latency: 99999999999}}]}}\n",
            "faults.f.toxics.0.attributes",
        ),
        (
            "faults: {f: {toxics: [{type: drop_response, attributes: {mode: explode}}]}}\n",
            "faults.f.toxics.0.attributes",
        ),
        ("faults: {f: {toxics: [{type: latency}, {type: latency}]}}\n", "faults.f.toxics.1.name"),
        ("faults: {f: {toxics: [{type: nosuch}]}}\n", "faults.f.toxics.0.type"),
        ("faults: {f: {failpoints: {nosuch: 1}}}\n", "faults.f.failpoints.nosuch"),
    ],
)
def test_what_a_run_needs_is_checked_at_load(tmp_path: Path, extra: str, field: str) -> None:
    text = MINIMAL.replace("faults: {none: {}}\n", "") + extra
    if "faults:" not in extra:
        text += "faults: {none: {}}\n"
    message = refusal(tmp_path, text)
    assert f": {field}" in message, message


@pytest.mark.parametrize(
    ("target", "field"),
    [
        ("operations: [{weight: .inf}]", "target.operations.0.weight"),
        ("operations: [{headers: {'X Y': v}}]", "target.operations.0.headers.X Y"),
        ("operations: [{headers: {X: \"a\\r\\nInjected: 1\"}}]", "target.operations.0.headers.X"),
        ("operations: [{key_header: 'Idempotency Key'}]", "target.operations.0.key_header"),
        ("env: {'A=B': x}", "target.env.A=B"),
        ("variants: {naive: {env: {'': x}}}", "target.variant_settings.naive.env."),
    ],
)
def test_what_the_target_and_the_load_get_is_checked_at_load(tmp_path: Path, target: str, field: str) -> None:
    """An environment variable or a header the OS or the HTTP client would refuse mid-run."""
    text = MINIMAL.replace("{name: payments}", f"{{name: payments, {target}}}")
    assert f": {field}: " in refusal(tmp_path, text)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("load: {stop: sometimes}", "load.stop: Input should be 'decided' or 'fixed' (got 'sometimes')"),
        ("load: {confidence: 1.5}", "load.confidence: Input should be less than 1 (got 1.5)"),
        ("gates: {idempotent: {max_duplicate_rate: 0, resolution: 2}}", "resolution: Input should be less"),
        ("gates: {idempotent: {max_lost_acknowledged: 0, resolution: 0.1}}", "resolution: only beside"),
    ],
)
def test_how_long_a_cell_runs_is_checked_when_the_file_loads(tmp_path: Path, extra: str, named: str) -> None:
    assert named in refusal(tmp_path, MINIMAL + extra + "\n")


def test_cells_stop_once_decided_unless_the_scenario_says_fixed(tmp_path: Path) -> None:
    gates = "gates: {idempotent: {max_duplicate_rate: 0, resolution: 0.02}}"
    decided = load_scenario(write(tmp_path, MINIMAL + gates))
    assert (decided.load.stop, decided.load.confidence) == ("decided", 0.95)
    assert decided.gates["idempotent"].resolution == 0.02  # type: ignore[union-attr]
    assert load_scenario(write(tmp_path, MINIMAL + "load: {stop: fixed}")).load.stop == "fixed"
