"""Operations on a resource they make first: the ``resource:`` block and the requests built from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from factories import load_cell

from harness.errors import ScenarioError
from harness.load.config import LoadCellConfig
from harness.load.operations import OperationRequest, ResourceAct, build_request, idempotency_key, op_id_for
from harness.scenario import OperationSpec, load_scenario
from harness.template import TemplateError

PREFIX = "p-"
RESOURCE = {
    "create": {
        "path": "/orders",
        "body": {"sku": "sku-red", "customer": "{customer}", "reference": "{op_id}"},
    },
    "state": {"path": "/orders/{resource}", "ignore": ["created_at"]},
}


def kind(**changes: Any) -> OperationSpec:
    fields: dict[str, Any] = {
        "name": "set-address",
        "method": "PUT",
        "path": "/orders/{resource}/address",
        "body": {"line1": "{choice:1 Main St|2 High St}", "order": "{resource}", "reference": "{op_id}"},
        "headers": {"X-Order": "{resource}"},
        "resource": RESOURCE,
    }
    return OperationSpec.model_validate({**fields, **changes})


def config(tmp_path: Path, *kinds: OperationSpec, **changes: Any) -> LoadCellConfig:
    return load_cell("http://127.0.0.1:1", tmp_path, PREFIX, kinds=kinds or (kind(),), seed=5, **changes)


def act_of(request: OperationRequest) -> ResourceAct:
    assert request.then is not None
    return request.then


def test_a_resource_kind_sends_its_create_step_first_as_its_own_operation(tmp_path: Path) -> None:
    create = build_request(config(tmp_path), PREFIX, 3)
    op_id = op_id_for(PREFIX, 3)
    assert (create.op_id, create.kind, create.number) == (f"{op_id}.create", "set-address.create", 3)
    assert (create.method, create.path, create.resource_id_field) == ("POST", "/orders", "id")
    assert create.key == idempotency_key(5, f"{op_id}.create") == create.headers["Idempotency-Key"]
    body = json.loads(create.body or b"")
    assert body["reference"] == f"{op_id}.create" and body["customer"].startswith("cus_")
    assert act_of(create).op_id == op_id and act_of(create).key == idempotency_key(5, op_id)


def test_the_act_is_a_pure_function_of_seed_op_id_and_the_resource(tmp_path: Path) -> None:
    act = act_of(build_request(config(tmp_path), PREFIX, 3))
    again = act_of(build_request(config(tmp_path), PREFIX, 3))
    request = act.request("ord_42")
    assert request == again.request("ord_42") == act.request("ord_42")
    op_id = op_id_for(PREFIX, 3)
    assert (request.op_id, request.kind, request.method) == (op_id, "set-address", "PUT")
    assert request.path == "/orders/ord_42/address" and request.headers["X-Order"] == "ord_42"
    assert request.key == idempotency_key(5, op_id) == request.headers["Idempotency-Key"]
    body = json.loads(request.body or b"")
    assert body["order"] == "ord_42" and body["reference"] == op_id
    # {resource} draws nothing: another id leaves every other value as it was
    other = json.loads(act.request("ord_7").body or b"")
    assert {**other, "order": "ord_42"} == body
    assert act.state_path("ord_42") == "/orders/ord_42"


def test_the_create_and_the_act_send_the_bytes_they_always_have(tmp_path: Path) -> None:
    """Pinned: built from the kind's compiled plans, the bytes are those the plain renderer gave."""
    act = act_of(build_request(config(tmp_path), PREFIX, 3))
    create, request = act.create(), act.request('ord_"42"')
    assert create.body == b'{"sku":"sku-red","customer":"cus_0346","reference":"p-000003.create"}'
    assert dict(create.headers) == {
        "Content-Type": "application/json",
        "Idempotency-Key": "486acd87-885f-5233-a40d-2339d4132029",
    }
    assert request.path == '/orders/ord_"42"/address'
    assert request.body == b'{"line1":"1 Main St","order":"ord_\\"42\\"","reference":"p-000003"}'
    assert dict(request.headers) == {
        "Content-Type": "application/json",
        "X-Order": 'ord_"42"',
        "Idempotency-Key": "1eb3e045-d0db-5c4c-93d1-092656ef98bb",
    }
    twin = act.request("ord_42", twin=True)
    assert twin.headers["Idempotency-Key"] == "3b9ea388-c6b1-558d-9515-7f9e8558f25b"


def test_the_twin_sends_the_same_requests_with_keys_of_its_own(tmp_path: Path) -> None:
    act = act_of(build_request(config(tmp_path, double_submit=1.0), PREFIX, 3))
    op_id = op_id_for(PREFIX, 3)
    create, twin_create = act.create(), act.create(twin=True)
    assert twin_create.body == create.body and twin_create.path == create.path
    assert twin_create.key == idempotency_key(5, f"{op_id}.create.twin") != create.key
    request, twin = act.request("ord_1"), act.request("ord_1", twin=True)
    assert twin.key == idempotency_key(5, f"{op_id}.twin") not in (request.key, twin_create.key)
    assert twin.body == request.body and twin.path == request.path
    assert request.double_submit and not twin.double_submit


def test_without_keys_neither_the_load_nor_the_twin_sends_one(tmp_path: Path) -> None:
    act = act_of(build_request(config(tmp_path, send_idempotency_key=False), PREFIX, 1))
    for request in (act.create(), act.create(twin=True), act.request("r"), act.request("r", twin=True)):
        assert request.key is None and "Idempotency-Key" not in request.headers


def test_a_head_act_without_a_body_sends_none(tmp_path: Path) -> None:
    head = kind(name="peek", method="HEAD", path="/orders/{resource}", body=None, headers={})
    request = act_of(build_request(config(tmp_path, head), PREFIX, 0)).request("ord_1")
    assert (request.method, request.path, request.body) == ("HEAD", "/orders/ord_1", None)
    assert "Content-Type" not in request.headers


def test_kinds_without_resource_build_as_before(tmp_path: Path) -> None:
    plain = OperationSpec(name="charge")
    request = build_request(config(tmp_path, plain), PREFIX, 2)
    assert request.then is None and request.op_id == op_id_for(PREFIX, 2) and request.method == "POST"


def test_resource_has_no_value_before_the_create_answered() -> None:
    from harness.template import OpContext, Renderer

    with pytest.raises(TemplateError, match=r"\{resource\} has no value yet for op-1"):
        Renderer(OpContext(1, "op-1", 1, "k", 1, 2)).text("/orders/{resource}")


SCENARIO = """\
name: methods
target:
  name: orders
  operations:
    - name: set-address
      method: {method}
      path: {path}
      body: {{line1: a, reference: "{{op_id}}"}}
{extra}
faults:
  none: {{toxics: []}}
"""
RESOURCE_YAML = """\
      resource:
        create: {{path: {create_path}, body: {{sku: x}}}}
        state: {{path: {state_path}}}
"""


def scenario(
    tmp_path: Path, method: str = "PUT", path: str = "/orders/{resource}/address", extra: str = ""
) -> Path:
    file = tmp_path / "s.yaml"
    file.write_text(SCENARIO.format(method=method, path=json.dumps(path), extra=extra), encoding="utf-8")
    return file


def resource_yaml(create_path: str = "/orders", state_path: str = "/orders/{resource}") -> str:
    return RESOURCE_YAML.format(create_path=json.dumps(create_path), state_path=json.dumps(state_path))


def test_a_scenario_declares_an_operation_on_a_resource(tmp_path: Path) -> None:
    loaded = load_scenario(scenario(tmp_path, extra=resource_yaml()))
    spec = loaded.target.operations[0].resource
    assert spec is not None and spec.create.method == "POST" and spec.create.id_field == "id"
    assert spec.state.path == "/orders/{resource}" and spec.state.ignore == ()
    head = load_scenario(scenario(tmp_path, method="HEAD", path="/orders/{resource}", extra=resource_yaml()))
    assert head.target.operations[0].method == "HEAD"


@pytest.mark.parametrize(
    ("path", "extra", "needle"),
    [
        (
            "/orders/{resource}/address",
            "",
            "target.operations.0: path: {resource} only in an operation with resource:",
        ),
        (
            "/orders/1",
            "      headers: {X-Order: '{resource}'}",
            "target.operations.0: headers.X-Order: {resource} only in an operation with resource:",
        ),
        (
            "/orders/{resource}",
            resource_yaml(create_path="/orders/{resource}"),
            "target.operations.0.resource.create: path: {resource} is not known yet in the create step",
        ),
        (
            "/orders/{resource}",
            resource_yaml(state_path="/orders"),
            "target.operations.0.resource.state: path: must name the resource with {resource}",
        ),
        (
            "/orders/{resource}",
            resource_yaml(state_path="orders/{resource}"),
            "target.operations.0.resource.state: path must start with '/'",
        ),
        (
            "/orders/{resource}",
            resource_yaml(state_path="/orders/{resourc}"),
            "target.operations.0.resource.state: unknown placeholder {resourc} in path",
        ),
        (
            "/orders/{resource}",
            resource_yaml().replace("body: {sku: x}", "body: {sku: x}, ids: id"),
            "target.operations.0.resource.create.ids: unknown field",
        ),
    ],
)
def test_a_misdeclared_resource_is_one_line_naming_the_field(
    tmp_path: Path, path: str, extra: str, needle: str
) -> None:
    file = scenario(tmp_path, path=path, extra=extra)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(file)
    message = str(caught.value)
    assert message.startswith(f"{file}: ") and "\n" not in message, message
    assert needle in message, message


def test_resource_is_refused_beside_a_flow() -> None:
    with pytest.raises(ValueError, match="resource: not with flow"):
        OperationSpec(flow="nowhere:flow", resource=RESOURCE)  # type: ignore[arg-type]


def test_own_service_declarations_accept_a_resource(tmp_path: Path) -> None:
    text = scenario(tmp_path, extra=resource_yaml()).read_text(encoding="utf-8")
    own = text.replace("  name: orders\n", "  url: http://127.0.0.1:8000\n")
    file = tmp_path / "own.yaml"
    file.write_text(own, encoding="utf-8")
    assert load_scenario(file).target.operations[0].resource is not None
