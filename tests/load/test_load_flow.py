"""Flow kinds (``flow: module:function``): multi-step operations run through the real driver."""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import load_cell

from harness.errors import ScenarioError
from harness.history import AttemptEnd, Event, OpEnd, OpStart, iter_file
from harness.load.config import LoadCellConfig, run_driver
from harness.load.operations import build_request, idempotency_key, op_id_for
from harness.paths import REPO_ROOT
from harness.scenario import OperationSpec, load_scenario

if TYPE_CHECKING:
    from conftest import Action, Serving

PREFIX = "flw-"
SEED = 11
EXAMPLE_DIR = str(REPO_ROOT / "examples" / "flows")
CHECKOUT = OperationSpec(name="checkout", flow="cart_checkout:cart_checkout", python_path=(EXAMPLE_DIR,))


def cell(server_url: str, tmp_path: Path, kind: OperationSpec, **changes: object) -> LoadCellConfig:
    defaults = {"kinds": (kind,), "seed": SEED, "operations": 8, "users": 3}
    return load_cell(server_url, tmp_path, PREFIX, **{**defaults, **changes})


def run(config: LoadCellConfig, tmp_path: Path) -> list[Event]:
    summary = run_driver(config, tmp_path / "load.json", lambda c, t: None, 60)
    assert summary.completed == summary.total == config.load.operations
    return list(iter_file(tmp_path / "history.jsonl"))


def counts(events: list[Event]) -> Counter[str]:
    return Counter(type(event).__name__ for event in events)


def test_two_step_flow_runs_once_per_op_with_the_key_on_the_checkout(
    tmp_path: Path, serving: Serving
) -> None:
    with serving(lambda reference, number: "ok") as server:
        events = run(cell(server.url, tmp_path, CHECKOUT), tmp_path)

    assert counts(events) == {"OpStart": 8, "AttemptStart": 8, "AttemptEnd": 8, "OpEnd": 8}
    ends = {e.op_id: e for e in events if isinstance(e, OpEnd)}
    assert {e.outcome for e in events if isinstance(e, AttemptEnd)} == {"ok"}
    for number in range(8):
        op_id = op_id_for(PREFIX, number)
        end = ends[op_id]
        assert (end.outcome, end.attempts, end.status) == ("acknowledged", 1, 201)
        assert end.resource_id == f"ch_{op_id}_2"  # the checkout's id, returned by the flow
    assert {e.key for e in events if isinstance(e, OpStart)} == {
        idempotency_key(SEED, op_id_for(PREFIX, n)) for n in range(8)
    }
    for reference, requests in server.by_reference().items():
        cart, checkout = requests
        assert cart.path == "/carts" and cart.key is None
        assert checkout.path == f"/carts/ch_{reference}_1/checkout"
        assert checkout.key == idempotency_key(SEED, reference)
        assert 100 <= json.loads(checkout.body)["amount"] <= 200
    assert len(server.received) == 16


def test_a_retry_reruns_the_whole_flow_with_the_same_key(tmp_path: Path, serving: Serving) -> None:
    def reset_first_checkout(reference: str, number: int) -> Action:
        return "reset" if number == 2 else "ok"

    with serving(reset_first_checkout) as server:
        events = run(cell(server.url, tmp_path, CHECKOUT, operations=5), tmp_path)

    assert counts(events) == {"OpStart": 5, "AttemptStart": 10, "AttemptEnd": 10, "OpEnd": 5}
    attempt_ends = [e for e in events if isinstance(e, AttemptEnd)]
    assert Counter((e.attempt, e.outcome, e.error) for e in attempt_ends) == {
        (1, "info", "connection reset"): 5,
        (2, "ok", None): 5,
    }
    for end in (e for e in events if isinstance(e, OpEnd)):
        assert (end.outcome, end.attempts, end.resource_id) == ("acknowledged", 2, f"ch_{end.op_id}_4")
    for reference, requests in server.by_reference().items():
        assert [r.path for r in requests] == [
            "/carts",
            f"/carts/ch_{reference}_1/checkout",
            "/carts",
            f"/carts/ch_{reference}_3/checkout",
        ]
        assert requests[1].key == requests[3].key == idempotency_key(SEED, reference)
        assert requests[1].body == requests[3].body  # rendered the same on every attempt


def write_flow(tmp_path: Path, source: str) -> str:
    """A flow module with a name unique to the test (modules are cached per process)."""
    name = "flow_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


def test_a_flow_that_raises_ends_its_attempt_as_info_with_the_error(tmp_path: Path, serving: Serving) -> None:
    module = write_flow(
        tmp_path,
        """
        def flow(ctx):
            answer = ctx.request("POST", "/carts", json={"reference": ctx.op_id})
            raise ValueError(f"no cart in {answer.status} for attempt {ctx.attempt}")
        """,
    )
    kind = OperationSpec(name="broken", flow=f"{module}:flow", python_path=(str(tmp_path),))
    with serving(lambda reference, number: "ok") as server:
        events = run(cell(server.url, tmp_path, kind, operations=3), tmp_path)

    assert counts(events) == {"OpStart": 3, "AttemptStart": 3, "AttemptEnd": 3, "OpEnd": 3}
    for end in (e for e in events if isinstance(e, AttemptEnd)):
        assert (end.outcome, end.status) == ("info", None)
        assert end.error == f"flow {module}:flow raised ValueError: no cart in 201 for attempt 1"
    assert {(e.outcome, e.attempts) for e in events if isinstance(e, OpEnd)} == {("unknown", 1)}
    assert len(server.received) == 3


def test_flow_requests_carry_the_op_context(tmp_path: Path) -> None:
    config = cell("http://127.0.0.1:9", tmp_path, CHECKOUT)
    request = build_request(config, PREFIX, 4)
    assert request.flow == "cart_checkout:cart_checkout" and request.python_path == (EXAMPLE_DIR,)
    assert request.template is not None and request.template.key == idempotency_key(SEED, request.op_id)
    assert request.key == request.template.key and request.body is None


SCENARIO = """\
name: flows
target:
  name: payments
  operations:
    - name: checkout
      flow: {flow}
      python_path: {python_path}
{extra}faults: {{none: {{}}}}
"""


def scenario(tmp_path: Path, flow: str, python_path: str = ".", extra: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.format(flow=flow, python_path=python_path, extra=extra), encoding="utf-8")
    return path


def test_scenario_flow_python_path_is_relative_to_the_file(tmp_path: Path) -> None:
    module = write_flow(tmp_path / "..", "def go(ctx):\n    return None\n")
    loaded = load_scenario(scenario(tmp_path, f"{module}:go", python_path=".."))
    (kind,) = loaded.target.operations
    assert kind.python_path == (str(tmp_path.parent.resolve()),)
    assert LoadCellConfig.model_validate_json(
        cell("http://127.0.0.1:9", tmp_path, kind).model_dump_json()
    ).kinds == (kind,)


@pytest.mark.parametrize(
    ("flow", "extra_field", "needle"),
    [
        ("nosuch_flow_module:go", "", "flow: cannot import nosuch_flow_module: ModuleNotFoundError"),
        ("cart_checkout:nosuch", "", "flow: module cart_checkout has no function 'nosuch'"),
        ("not a callable", "", "flow: expected 'module:function'"),
        ("cart_checkout:cart_checkout", "path: /x", "path: not with flow"),
        ("cart_checkout:cart_checkout", "method: PUT", "method: not with flow"),
        ("cart_checkout:cart_checkout", "body: {a: 1}", "body: not with flow"),
    ],
)
def test_scenario_flow_errors_name_the_field(
    tmp_path: Path, flow: str, extra_field: str, needle: str
) -> None:
    text = SCENARIO.format(flow=json.dumps(flow), python_path=EXAMPLE_DIR, extra="")
    if extra_field:
        text = text.replace("      python_path:", f"      {extra_field}\n      python_path:")
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: target.operations.0:"), message
    assert needle in message


def test_python_path_without_flow_is_refused() -> None:
    with pytest.raises(ValueError, match="python_path: only with flow"):
        OperationSpec(python_path=("/tmp",))
