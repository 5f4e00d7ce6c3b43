"""`MessageQueue` over RabbitMQ with pika: durable queue, persistent messages, confirms, manual ack.

Two connections, because pika's `BlockingConnection` is not thread-safe: one for publishing and counting,
shared by the HTTP handler threads under a lock, and one owned by the consumer thread. The publishing
connection runs without heartbeats: it idles between requests, and nothing calls into it to answer
heartbeats then; on loopback a dead peer is seen as a closed socket anyway.

Publisher confirms plus `mandatory` make `publish` return only once the broker has taken responsibility
for the message. The consumer takes at most `prefetch` unacknowledged messages at a time; each is acked
by its delivery tag only after the handler returns. If the consumer dies first, the broker sees the
connection close and delivers those messages again, flagged `redelivered`.

`pending()` is the queue's ready count (a passive declare) plus the deliveries this process holds and
has not acked. A message on the wire from broker to consumer is in neither for a moment; a drain that
reads zero should read it twice.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Any

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel, BlockingConnection

from targets.targetkit.messaging import Delivery, PublishError

DEFAULT_PREFETCH = 4
RECEIVE_WAIT_S = 0.1
CONNECT_TIMEOUT_S = 5.0

_BROKER_ERRORS = (pika.exceptions.AMQPError, OSError)


class AmqpQueue:
    """One durable RabbitMQ queue, published to by HTTP handlers and consumed by one worker thread."""

    def __init__(self, url: str, name: str, prefetch: int = DEFAULT_PREFETCH) -> None:
        self._url = url
        self.name = name
        self._prefetch = prefetch
        self._publish_lock = threading.Lock()
        self._publisher: BlockingConnection | None = None
        self._publish_channel: BlockingChannel | None = None
        self._consumer: BlockingConnection | None = None
        self._consume_channel: BlockingChannel | None = None
        self._held_lock = threading.Lock()
        self._buffer: collections.deque[Delivery] = collections.deque()
        self._unacked = 0  # delivered to this process (buffered or being handled), not yet acked

    # -- connections ----------------------------------------------------------------------------------
    def _connect(self, *, heartbeat: int | None) -> tuple[BlockingConnection, BlockingChannel]:
        parameters = pika.URLParameters(self._url)
        parameters.connection_attempts = 1
        parameters.socket_timeout = CONNECT_TIMEOUT_S
        if heartbeat is not None:
            parameters.heartbeat = heartbeat
        connection = BlockingConnection(parameters)
        channel = connection.channel()
        channel.queue_declare(self.name, durable=True)
        return connection, channel

    def _publishing(self) -> BlockingChannel:
        """The publishing channel, (re)connected if needed; call with `_publish_lock` held."""
        if self._publish_channel is None or not self._publish_channel.is_open:
            self._close_publisher()
            self._publisher, self._publish_channel = self._connect(heartbeat=0)
            self._publish_channel.confirm_delivery()
        return self._publish_channel

    def _consuming(self) -> BlockingChannel:
        """The consuming channel, (re)connected if needed; consumer thread only."""
        if self._consume_channel is None or not self._consume_channel.is_open:
            self._drop_consumer()
            self._consumer, self._consume_channel = self._connect(heartbeat=None)
            self._consume_channel.basic_qos(prefetch_count=self._prefetch)
            self._consume_channel.basic_consume(self.name, self._on_message, auto_ack=False)
        return self._consume_channel

    def _close_publisher(self) -> None:
        if self._publisher is not None and self._publisher.is_open:
            with contextlib.suppress(*_BROKER_ERRORS):
                self._publisher.close()
        self._publisher = self._publish_channel = None

    def _drop_consumer(self) -> None:
        """Forget the consumer connection; the broker requeues whatever it had delivered on it."""
        if self._consumer is not None and self._consumer.is_open:
            with contextlib.suppress(*_BROKER_ERRORS):
                self._consumer.close()
        self._consumer = self._consume_channel = None
        with self._held_lock:
            self._buffer.clear()
            self._unacked = 0

    # -- MessageQueue ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        with self._publish_lock:
            self._publishing()

    def publish(self, message_id: str, body: bytes) -> None:
        properties = pika.BasicProperties(message_id=message_id, content_type="application/json",
                                          delivery_mode=pika.DeliveryMode.Persistent)
        with self._publish_lock:
            try:
                self._publishing().basic_publish("", self.name, body, properties=properties, mandatory=True)
            except _BROKER_ERRORS as error:
                self._close_publisher()
                raise PublishError(f"publishing to {self.name!r} failed: {error!r}") from error

    def _on_message(self, _channel: BlockingChannel, method: Any, properties: Any, body: bytes) -> None:
        delivery = Delivery(str(properties.message_id or ""), body, bool(method.redelivered),
                            int(method.delivery_tag))
        with self._held_lock:
            self._buffer.append(delivery)
            self._unacked += 1

    def receive(self) -> Delivery | None:
        channel = self._consuming()
        if not self._buffer:
            try:
                channel.connection.process_data_events(time_limit=RECEIVE_WAIT_S)
            except _BROKER_ERRORS:
                self._drop_consumer()
                raise
        with self._held_lock:
            return self._buffer.popleft() if self._buffer else None

    def ack(self, delivery: Delivery) -> None:
        channel = self._consume_channel
        if channel is None:
            # The connection that delivered it is gone; the broker has requeued the message already.
            raise RuntimeError(f"cannot ack message {delivery.message_id!r}: its connection was lost")
        try:
            channel.basic_ack(delivery.handle)
        except _BROKER_ERRORS:
            self._drop_consumer()  # the broker will deliver the message again
            raise
        with self._held_lock:
            self._unacked -= 1

    def pending(self) -> int:
        with self._publish_lock:
            try:
                ready = self._publishing().queue_declare(self.name, durable=True, passive=True)
            except _BROKER_ERRORS:
                self._close_publisher()
                raise
        with self._held_lock:
            held = self._unacked
        return int(ready.method.message_count) + held

    def close(self) -> None:
        with self._publish_lock:
            self._close_publisher()
        self._drop_consumer()
