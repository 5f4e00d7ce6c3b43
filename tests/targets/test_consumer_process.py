"""The consumer as the harness runs it: a real process, a crash, a restart, on both transports.

The RabbitMQ broker is the harness's own service (Debian's rabbitmq-server), started once for the
module (about five seconds) and shared; each test gets its own vhost and namespace (a cell id). Where
the package is missing these tests skip on a developer's machine and fail on CI (`CI=true`).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from waiting import WAIT_S, wait_until

from harness.runtime.process import ProcessRuntime, ProcessTarget, target_command, target_env
from harness.services import ServiceSet, available_services
from targets.targetkit.amqp import AmqpQueue
from targets.targetkit.messaging import Delivery

APP = target_command("consumer")
MESSAGE = {"reference": "op-crash", "amount": 900}
CRASH_EXIT_STATUS = 17


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceSet]:
    why_not = available_services()["rabbitmq"]
    if why_not is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"rabbitmq is needed on CI: {why_not}")
        pytest.skip(why_not)
    with ServiceSet.start(("rabbitmq",), tmp_path_factory.mktemp("broker")) as services:
        yield services


def get(target: ProcessTarget, path: str) -> Any:
    response = httpx.get(f"{target.endpoint.base_url}{path}", timeout=5)
    assert response.status_code == 200
    return response.json()


def publish(target: ProcessTarget) -> httpx.Response | None:
    """POST the message; None when the consumer's crash cut the reply off.

    The broker may deliver the message and the failpoint may end the process before the 202 leaves
    it: the publish then happened (the log and the effects below prove it) but its reply is lost.
    """
    try:
        return httpx.post(f"{target.endpoint.base_url}/messages", json=MESSAGE,
                          headers={"Idempotency-Key": "key-1"}, timeout=5)
    except httpx.TransportError:
        return None


def crash_then_restart(folder: Path, variant: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Publish one message to a consumer that crashes after its effect; restart; drain; return effects."""
    runtime = ProcessRuntime(start_timeout_s=WAIT_S)

    def start(failpoints: str) -> ProcessTarget:
        return runtime.start("consumer", variant, folder / "data", folder / "target.log",
                             {**env, "HARNESS_FAILPOINTS": failpoints, "HARNESS_SEED": "3"})

    target = start("after_effect_before_ack=1.0")
    try:
        accepted = publish(target)
        wait_until(lambda: target.exit_code() is not None, "the failpoint crash")
        assert target.exit_code() == CRASH_EXIT_STATUS
    finally:
        target.stop()
    if accepted is not None:
        assert (accepted.status_code, accepted.json()) == (202, {"id": "key-1"})
    assert "failpoint after_effect_before_ack fired on hit 0" in (folder / "target.log").read_text()

    restarted = start("")
    try:
        wait_until(lambda: get(restarted, "/stats") == {"pending": 0}, "the queue to drain")
        effects: list[dict[str, Any]] = get(restarted, "/effects")
    finally:
        restarted.stop()
    assert {e["message_id"] for e in effects} == {"key-1"}
    return effects


CRASH_CASES = [("naive", 2), ("idempotent", 1), ("broken-inbox-after-effect", 2)]


@pytest.mark.parametrize(("variant", "applied"), CRASH_CASES[:2])  # the broken one: test_consumer_app
def test_crash_after_effect_before_ack_on_the_embedded_queue(tmp_path: Path, variant: str,
                                                             applied: int) -> None:
    environment = {"HARNESS_NAMESPACE": "consumer-embedded", "HARNESS_AMQP_URL": ""}
    effects = crash_then_restart(tmp_path, variant, environment)
    assert [e["reference"] for e in effects] == ["op-crash"] * applied


@pytest.mark.parametrize(("variant", "applied"), CRASH_CASES)
def test_crash_after_effect_before_ack_on_rabbitmq(broker: ServiceSet, tmp_path: Path, variant: str,
                                                   applied: int) -> None:
    effects = crash_then_restart(tmp_path, variant, broker.cell_env(f"consumer-crash-{variant}"))
    assert [e["reference"] for e in effects] == ["op-crash"] * applied


def test_rabbitmq_queue_redelivers_what_a_lost_consumer_did_not_ack(broker: ServiceSet) -> None:
    env = broker.cell_env("consumer-amqp-queue")
    name = f"{env['HARNESS_NAMESPACE']}.messages"
    first, second = AmqpQueue(env["HARNESS_AMQP_URL"], name), AmqpQueue(env["HARNESS_AMQP_URL"], name)
    try:
        first.prepare()
        first.publish("m-1", b'{"n": 1}')
        assert first.pending() == 1
        delivered = _receive(first)
        assert (delivered.message_id, delivered.body, delivered.redelivered) == ("m-1", b'{"n": 1}', False)
        assert first.pending() == 1  # held by this process, not yet acked
        first.close()  # the consumer's connection goes away without an ack

        again = _receive(second)
        assert (again.message_id, again.redelivered) == ("m-1", True)
        second.ack(again)
        wait_until(lambda: second.pending() == 0, "the ack to reach the broker")
    finally:
        first.close()
        second.close()


def _receive(queue: AmqpQueue) -> Delivery:
    for _ in range(int(WAIT_S / 0.1)):
        delivery = queue.receive()
        if delivery is not None:
            return delivery
    raise AssertionError("no delivery in time")


def test_a_bad_broker_url_exits_with_status_2(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")},
           "HARNESS_AMQP_URL": "http://127.0.0.1:1/"}
    result = subprocess.run(
        [*APP, "--port", "1", "--variant", "naive", "--db", str(tmp_path / "c.db")],
        cwd=tmp_path, env=target_env(env), capture_output=True, timeout=30, check=False,
    )
    assert result.returncode == 2
    assert b"HARNESS_AMQP_URL='http://127.0.0.1:1/' must start with amqp://" in result.stderr
