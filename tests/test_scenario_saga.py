"""The ``target.saga`` block and toxic links: refused in one line naming the field, and what a cell makes
of them (each participant's env, each hop's URL variable and toxics, the cell's expectations)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.cell import cell_expectations
from harness.errors import ScenarioError
from harness.faults import plan_fault
from harness.proxy.client import ProxyInfo
from harness.runtime.base import Endpoint
from harness.saga_cell import SagaHops, participant_env, start_saga_hops
from harness.scenario import CLIENT_LINK, Scenario, load_scenario

SCENARIO = """
name: t
target:
  name: checkout
  variants: [idempotent]
  saga: SAGA
faults: FAULTS
"""
CHECKOUT_SAGA = (
    "{participants: [payments, inventory, shipping], role_env: ROLE, url_env: 'CHECKOUT_{NAME}_URL'}"
)
HOP_TOXICS = (
    "{slow: {toxics: [{type: http_latency, link: payments, attributes: {latency: 700}},"
    " {type: drop_response, name: lost}]}}"
)


def load(tmp_path: Path, saga: str = CHECKOUT_SAGA, faults: str = "{none: {}}") -> Scenario:
    path = tmp_path / "s.yaml"
    path.write_text(SCENARIO.replace("SAGA", saga).replace("FAULTS", faults))
    return load_scenario(path)


def refusal(tmp_path: Path, saga: str, faults: str = "{none: {}}") -> str:
    with pytest.raises(ScenarioError) as caught:
        load(tmp_path, saga, faults)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 's.yaml'}: ") and "\n" not in message, message
    return message.removeprefix(f"{tmp_path / 's.yaml'}: ")


def test_a_declared_saga_names_each_hop_and_its_url_variable(tmp_path: Path) -> None:
    saga = load(tmp_path).target.saga

    assert saga is not None
    assert saga.links == (CLIENT_LINK, "payments", "inventory", "shipping")
    assert [saga.url_env_of(name) for name in saga.participants] == [
        "CHECKOUT_PAYMENTS_URL", "CHECKOUT_INVENTORY_URL", "CHECKOUT_SHIPPING_URL"]
    assert [role.name for role in saga.roles] == ["payments", "inventory", "shipping"]
    assert participant_env(saga, "inventory") == {"ROLE": "inventory"}


def test_participants_as_a_mapping_carry_their_own_url_variable_and_env(tmp_path: Path) -> None:
    saga = load(tmp_path, "{participants: {payments: {url_env: PAY, env: {A: b}}, shipping: {}}}").target.saga

    assert saga is not None and saga.participants == ("payments", "shipping")
    assert (saga.url_env_of("payments"), saga.url_env_of("shipping")) == ("PAY", "SHIPPING_URL")
    assert participant_env(saga, "payments") == {"A": "b"}  # no role_env: no role variable


@pytest.mark.parametrize(
    ("saga", "faults", "message"),
    [
        ("{participants: [payments, payments]}", "{none: {}}",
         "target.saga.participants.1: a participant is named twice (got 'payments')"),
        ("{participants: [client]}", "{none: {}}",
         "target.saga.participants.0: 'client' names the load's link"),
        ("{participants: [billing]}", "{none: {}}",
         "target.saga.participants.billing.step: required: not a checkout participant"),
        ("{participants: []}", "{none: {}}", "target.saga.participants: at least one participant is needed"),
        ("{participants: [payments], url_env: 'A-{NAME}'}", "{none: {}}",
         "target.saga.url_env: 'A-PAYMENTS' is not an environment variable name"),
        ("{participants: {payments: {url_env: X}, inventory: {url_env: X}}}", "{none: {}}",
         "target.saga.participants.inventory.url_env: 'X' carries the URL of payments already"),
        ("{participants: [payments], effects_from: inventory}", "{none: {}}",
         "target.saga.effects_from: no such participant (participants: payments)"),
        ("{participants: [payments], settle_s: 0}", "{none: {}}", "target.saga.settle_s:"),
        ("{participants: [payments], role_env: 'A=B'}", "{none: {}}", "target.saga.role_env:"),
        ("{participants: [payments]}", "{lat: {toxics: [{type: latency, link: shipping}]}}",
         "faults.lat.toxics.0.link: no such link (links: client, payments) (got 'shipping')"),
        ("{participants: [payments]}", "{crash: {service: shipping, failpoints: {before_commit: 0.1}}}",
         "faults.crash.service: no such participant (participants: payments) (got 'shipping')"),
        ("{participants: [payments]}", "{crash: {service: payments}}",
         "faults.crash.service: names whose failpoints and crashes these are; the fault has neither"),
    ],
)
def test_a_bad_saga_is_refused_naming_the_field(tmp_path: Path, saga: str, faults: str, message: str) -> None:
    assert refusal(tmp_path, saga, faults).startswith(message)


def test_a_toxic_link_needs_a_declared_saga(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    toxic = "{type: latency, link: payments}"
    path.write_text(f"name: t\ntarget: {{name: payments}}\nfaults: {{f: {{toxics: [{toxic}]}}}}\n")

    with pytest.raises(ScenarioError, match=r"faults.f.toxics.0.link: no such link \(links: client \(no "):
        load_scenario(path)


def test_a_url_target_cannot_declare_a_saga(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\ntarget: {url: 'http://127.0.0.1:9', saga: {participants: [payments]}}\nfaults: {none: {}}\n"
    )

    with pytest.raises(ScenarioError, match="saga: not with url"):
        load_scenario(path)


def test_a_fault_service_needs_a_declared_saga(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: t\ntarget: {name: payments}\nfaults: {f: {service: payments, crashes: {}}}\n")

    with pytest.raises(ScenarioError, match=r"faults.f.service: no such participant \(participants: none"):
        load_scenario(path)


def test_a_participants_failpoints_go_to_it_alone_and_it_is_the_one_supervised(tmp_path: Path) -> None:
    crash = "{crash: {service: payments, failpoints: {after_commit_before_response: 1}}}"
    scenario = load(tmp_path, faults=crash)
    plan = plan_fault("crash", scenario.faults["crash"], scenario.seed)
    saga = scenario.target.saga
    assert saga is not None
    services = {name: FakeService(name, 9000 + index) for index, name in enumerate(saga.participants)}
    proxies = {name: ProxyInfo(f"hop-{name}", "127.0.0.1", 7000, "x", True) for name in saga.participants}
    hops = SagaHops(saga, services, proxies)  # type: ignore[arg-type]

    assert plan.env_of("payments")["HARNESS_FAILPOINTS"] == "after_commit_before_response=1.0"
    assert "HARNESS_FAILPOINTS" not in plan.env_of(None) | plan.env_of("inventory")
    assert plan.env_of(None)["HARNESS_SEED"] == plan.env_of("payments")["HARNESS_SEED"]
    assert hops.supervised(plan) == (services["payments"], "hop-payments")
    assert hops.supervised(plan_fault("none", scenario.faults["crash"].model_copy(
        update={"service": None}), scenario.seed)) is None


def test_each_toxic_goes_to_its_link_and_only_the_clients_count_per_request(tmp_path: Path) -> None:
    scenario = load(tmp_path, faults=HOP_TOXICS)
    plan = plan_fault("slow", scenario.faults["slow"], scenario.seed)

    assert [toxic.name for toxic in plan.on_link("payments")] == ["http_latency_downstream"]
    assert [toxic.name for toxic in plan.on_link(CLIENT_LINK)] == ["lost"]
    expect = cell_expectations(scenario, plan, "idempotent")
    assert expect.saga and expect.per_request_toxics == frozenset({"lost"})


class FakeService:
    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.endpoint = Endpoint("127.0.0.1", port)
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_hops_start_every_participant_then_put_a_proxy_in_front_of_each(tmp_path: Path) -> None:
    scenario = load(tmp_path, faults=HOP_TOXICS)
    saga = scenario.target.saga
    assert saga is not None
    started: dict[str, FakeService] = {}
    envs: dict[str, dict[str, str]] = {}

    def start(name: str, env: dict[str, str]) -> FakeService:
        envs[name] = env
        started[name] = FakeService(name, 9000 + len(started))
        return started[name]

    def create_proxy(name: str, upstream: str) -> ProxyInfo:
        port = 7000 + int(upstream.rsplit(":", 1)[1]) % 100
        return ProxyInfo(name=f"hop-{name}", listen_host="127.0.0.1", listen_port=port, upstream=upstream,
                         enabled=True)

    with ExitStack() as targets:
        hops = start_saga_hops(saga, start, create_proxy, targets)  # type: ignore[arg-type]
        env = hops.orchestrator_env()
        toxics = hops.toxics(plan_fault("slow", scenario.faults["slow"], scenario.seed))
        assert not any(service.stopped for service in started.values())

    assert envs == {name: {"ROLE": name} for name in saga.participants}
    assert list(hops.participants) == ["payments", "inventory", "shipping"]
    assert set(env) == {"CHECKOUT_PAYMENTS_URL", "CHECKOUT_INVENTORY_URL", "CHECKOUT_SHIPPING_URL"}
    assert env["CHECKOUT_PAYMENTS_URL"] == hops.proxies["payments"].base_url != "http://127.0.0.1:9000"
    assert [(proxy, toxic.type) for proxy, toxic in toxics] == [("hop-payments", "http_latency")]
    assert hops.effects_url("http://orchestrator") == "http://orchestrator"
    assert all(service.stopped for service in started.values())


def test_a_participant_that_fails_to_start_stops_the_ones_that_did(tmp_path: Path) -> None:
    saga = load(tmp_path).target.saga
    assert saga is not None
    started: list[FakeService] = []

    def start(name: str, env: dict[str, str]) -> FakeService:
        if name == "inventory":
            raise RuntimeError("inventory would not start")
        started.append(FakeService(name, 9000 + len(started)))
        return started[-1]

    with pytest.raises(RuntimeError, match="inventory would not start"), ExitStack() as targets:
        start_saga_hops(saga, start, lambda name, upstream: pytest.fail("no proxy"), targets)  # type: ignore[arg-type]

    assert sorted(service.name for service in started) == ["payments", "shipping"]
    assert all(service.stopped for service in started)
