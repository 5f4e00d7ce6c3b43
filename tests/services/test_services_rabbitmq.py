"""RabbitMQ as a run service: a real broker node, a vhost per cell, publish/consume/ack with pika."""

from __future__ import annotations

import pika
import pika.exceptions
import pytest

from harness.runtime.base import Endpoint
from harness.services import ServiceSet
from harness.services.rabbitmq import START_TIMEOUT_S


def _connect(env: dict[str, str]) -> pika.BlockingConnection:
    parameters = pika.URLParameters(env["HARNESS_AMQP_URL"])
    parameters.socket_timeout = 5
    parameters.blocked_connection_timeout = 5
    return pika.BlockingConnection(parameters)


def test_publish_consume_ack_in_a_cell_vhost(broker: ServiceSet) -> None:
    env = broker.cell_env("naive--crash")
    port = broker.endpoints["rabbitmq"].port
    assert env["HARNESS_AMQP_URL"] == f"amqp://guest:guest@127.0.0.1:{port}/cell_naive_crash"
    connection = _connect(env)
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.queue_declare("jobs", durable=True)
        for number in (1, 2):
            channel.basic_publish("", "jobs", f"job-{number}".encode(), pika.BasicProperties(delivery_mode=2))
        received = []
        for _ in range(2):
            method, _properties, body = channel.basic_get("jobs")
            assert method is not None
            received.append(body)
            channel.basic_ack(method.delivery_tag)
        left = channel.queue_declare("jobs", durable=True, passive=True).method.message_count
    finally:
        connection.close()
    assert (received, left) == ([b"job-1", b"job-2"], 0)


def test_cells_prepared_together_do_not_see_each_others_queues(broker: ServiceSet) -> None:
    broker.prepare(["naive--latency", "idempotent--latency"])
    first, second = broker.cell_env("naive--latency"), broker.cell_env("idempotent--latency")
    connection = _connect(first)
    try:
        connection.channel().queue_declare("only-in-naive")
    finally:
        connection.close()
    other = _connect(second)
    try:
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as raised:
            other.channel().queue_declare("only-in-naive", passive=True)
    finally:
        other.close()
    assert raised.value.reply_code == 404


def test_addresses_override_host_and_port_not_the_vhost(broker: ServiceSet) -> None:
    env = broker.cell_env("naive--crash", {"rabbitmq": Endpoint("127.0.0.1", 4324)})
    assert env["HARNESS_AMQP_URL"] == "amqp://guest:guest@127.0.0.1:4324/cell_naive_crash"


def test_the_node_starts_in_reasonable_time(broker: ServiceSet) -> None:
    assert 0 < broker.startup_s["rabbitmq"] < START_TIMEOUT_S  # measured, and within the start's bound
