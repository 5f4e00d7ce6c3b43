"""Request templates: every placeholder, typed numbers, escapes, determinism, and errors at load time."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from harness.errors import ScenarioError
from harness.scenario import load_scenario
from harness.template import OpContext, Renderer, compile_json, validate_template

CONTEXT = OpContext(seed=3, op_id="nai-none-000042", seq=42, key="key-42", amount_min=100, amount_max=105)


def render(template: object, context: OpContext = CONTEXT) -> object:
    return Renderer(context).json(template)


def test_every_placeholder_renders_its_value() -> None:
    rendered = render(
        {
            "op": "{op_id}",
            "key": "{key}",
            "seq": "{seq}",
            "uuid": "{uuid}",
            "amount": "{amount}",
            "customer": "{customer}",
            "int": "{int:-2:2}",
            "choice": "{choice:red|green|blue}",
        }
    )
    assert isinstance(rendered, dict)
    assert (rendered["op"], rendered["key"], rendered["seq"]) == ("nai-none-000042", "key-42", 42)
    assert uuid.UUID(rendered["uuid"]).version == 4
    assert rendered["amount"] in range(100, 106)
    assert rendered["customer"].startswith("cus_") and rendered["customer"][4:].isdigit()
    assert len(rendered["customer"]) == 8
    assert rendered["int"] in range(-2, 3)
    assert rendered["choice"] in {"red", "green", "blue"}


def test_draws_cover_their_ranges_across_operations() -> None:
    contexts = [OpContext(3, f"op-{n}", n, "k", 1, 3) for n in range(100)]
    assert {render("{amount}", c) for c in contexts} == {1, 2, 3}
    assert {render("{int:7:9}", c) for c in contexts} == {7, 8, 9}
    assert {render("{choice:a|b}", c) for c in contexts} == {"a", "b"}
    assert len({render("{uuid}", c) for c in contexts}) == 100
    assert len({render("{customer}", c) for c in contexts}) > 80


def test_a_lone_numeric_placeholder_becomes_a_json_number_and_anything_else_stays_text() -> None:
    assert render(["{seq}", "{amount}", "{int:5:5}"]) == [42, render("{amount}"), 5]
    assert render(["#{seq}", "{seq}{seq}", "{op_id}", "{choice:1|1}", " {seq}"]) == [
        "#42",
        "4242",
        "nai-none-000042",
        "1",
        " 42",
    ]
    assert render({"n": None, "t": True, "f": 2.5, "i": 7, "deep": [{"x": ["{seq}"]}]}) == {
        "n": None,
        "t": True,
        "f": 2.5,
        "i": 7,
        "deep": [{"x": [42]}],
    }
    assert Renderer(CONTEXT).text("/refunds/{seq}/{int:3:3}") == "/refunds/42/3"


def test_dict_keys_are_kept_literally() -> None:
    assert render({"{seq}": "{seq}"}) == {"{seq}": 42}


def test_doubled_braces_are_literal_braces() -> None:
    assert render("{{seq}}") == "{seq}"
    assert render("{{{seq}}}") == "{42}"
    assert render("a}}b{{c") == "a}b{c"
    assert Renderer(CONTEXT).text("/x/{{id}}") == "/x/{id}"


def test_rendering_is_a_pure_function_of_seed_and_op_id() -> None:
    template = {"a": "{uuid}", "b": "{int:0:1000000}", "c": "{choice:a|b|c|d|e|f}", "d": "{amount}"}
    assert render(template) == render(template)
    assert render(template) != render(template, OpContext(4, CONTEXT.op_id, 42, "key-42", 100, 105))
    assert render(template) != render(template, OpContext(3, "nai-none-000043", 42, "key-42", 100, 105))


def test_per_op_values_are_shared_by_path_headers_and_body() -> None:
    renderer = Renderer(CONTEXT)
    path = renderer.text("/orders/{uuid}/{customer}")
    body = renderer.json({"order": "{uuid}", "customer": "{customer}", "amount": "{amount}"})
    assert isinstance(body, dict)
    assert path == f"/orders/{body['order']}/{body['customer']}"
    assert renderer.text("{amount}") == str(body["amount"])


@pytest.mark.parametrize(
    "template",
    [
        {"amount": "{amount}", "currency": "EUR", "customer": "{customer}", "reference": "{op_id}"},
        {"u": "{uuid}", "n": ["{int:-5:5}", '{choice:x|\u00e9|"q"}', "{seq}x", "{{seq}}"], "e": {}, "l": []},
        {"f": 2.5, "b": True, "z": None, "big": 10**20, "{seq}": "{key}", "\u2028": "a\\b\n{op_id}"},
        {1: "{amount}", 2.5: "x", None: "y", False: "{seq}"},
        "{op_id}",
        "{amount}",
        ["", "{{", "}}", "plain"],
        {"order": "{resource}", "at": "/o/{resource}/{amount}", "n": "{seq}", "r": ["{resource}"]},
        7,
    ],
)
def test_a_compiled_body_renders_to_exactly_what_json_dumps_gives(template: object) -> None:
    """Compiled once per kind, rendered by joins: the text is json.dumps's, byte for byte, draws included."""
    context = OpContext(
        seed=3, op_id='op"\u00e9-7', seq=7, key="key-7", amount_min=1, amount_max=10**6, resource='r"\u00e9/1'
    )
    expected = json.dumps(Renderer(context).json(template), separators=(",", ":"))
    assert Renderer(context).json_text(compile_json(template)) == expected


def test_templates_without_drawn_placeholders_never_seed_a_stream() -> None:
    renderer = Renderer(CONTEXT)
    assert renderer.text("/o/{op_id}/{key}/{seq}") == "/o/nai-none-000042/key-42/42"
    assert renderer._stream is None  # seeding costs more than the rest of a request


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{amout}", "unknown placeholder {amout} in body"),
        ({"a": [1, {"b": "x{nope}"}]}, r"unknown placeholder {nope} in body.a\[1\].b"),
        ("{int:5}", "unknown placeholder {int:5} in body"),
        ("{int:9:1}", "unknown placeholder {int:9:1} in body"),
        ("{int:a:b}", "unknown placeholder {int:a:b} in body"),
        ("{int:1:2:3}", "unknown placeholder {int:1:2:3} in body"),
        ("{choice:}", "unknown placeholder {choice:} in body"),
        ("{}", "unknown placeholder {} in body"),
        ("{seq:1}", "unknown placeholder {seq:1} in body"),
        ("a{b", "unmatched '{' .* in body"),
        ("a}b", "unmatched '}' .* in body"),
    ],
)
def test_unknown_or_malformed_placeholders_are_named_with_where_they_are(
    template: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        validate_template(template, "body")


def test_good_templates_pass_validation() -> None:
    validate_template({"a": ["{seq}", "{{x}}", 3, None, "{int:-1:1}", "{choice:x}"]}, "body")


SCENARIO = """\
name: bad-template
target:
  name: payments
  operations:
    - {{name: charge}}
    - {{name: refund, path: "{path}", headers: {{X-Tenant: "{header}"}}, body: {{amount: "{amount}"}}}}
faults: {{none: {{}}}}
"""


@pytest.mark.parametrize(
    ("path", "header", "amount", "message"),
    [
        ("/r", "t", "{amout}", "target.operations.1: unknown placeholder {amout} in body.amount"),
        ("/r", "{tenant}", "1", "target.operations.1: unknown placeholder {tenant} in headers.X-Tenant"),
        ("/r/{id}", "t", "1", "target.operations.1: unknown placeholder {id} in path"),
        ("r", "t", "1", "target.operations.1: path must start with '/' (got 'r')"),
    ],
)
def test_a_scenario_with_a_bad_template_fails_at_load_naming_the_field(
    tmp_path: Path, path: str, header: str, amount: str, message: str
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(SCENARIO.format(path=path, header=header, amount=amount))
    with pytest.raises(ScenarioError) as raised:
        load_scenario(file)
    assert str(raised.value) == f"{file}: {message}"


def test_the_same_scenario_with_good_templates_loads(tmp_path: Path) -> None:
    file = tmp_path / "good.yaml"
    file.write_text(SCENARIO.format(path="/r/{seq}", header="t-{int:1:2}", amount="{amount}"))
    kinds = load_scenario(file).target.operations
    assert [(k.name, k.path) for k in kinds] == [("charge", "/charges"), ("refund", "/r/{seq}")]
