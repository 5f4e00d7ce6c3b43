"""The consumer loop, per variant: receive one message, apply its effect, acknowledge it.

The crash line `after_effect_before_ack` sits right after the effect's transaction commits. The queue
delivers an unacknowledged message again after a crash, so:

- `naive`: applies every delivery. A redelivery, or a second copy published by a producer retry with
  the same message id, is applied again.
- `idempotent`: an inbox row (message id, PRIMARY KEY) is written in the SAME transaction as the effect;
  a message already in the inbox is acknowledged without effect. Crash anywhere: both or neither.
- `broken-inbox-after-effect`: checks the inbox first, but writes it in a separate transaction after
  the effect's. Absorbs producer duplicates and passes every test without crashes; a crash between the
  two commits applies the message twice. A common shape when the inbox is bolted on later.

A body that is not a valid message is logged and acknowledged (dropped): redelivering a poison message
forever would stop the queue behind it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from targets.consumer.ledger import add_to_inbox, apply_entry, in_inbox
from targets.consumer.models import MessageRequest
from targets.targetkit import Database, Failpoints
from targets.targetkit.messaging import Delivery, MessageQueue

AFTER_EFFECT_BEFORE_ACK = "after_effect_before_ack"

_log = logging.getLogger("targetkit.consumer")


@dataclass
class Consumer:
    """The naive consumer; subclasses change how the effect is guarded."""

    db: Database
    queue: MessageQueue
    failpoints: Failpoints

    def step(self) -> bool:
        """Handle one delivery if there is one; a `targetkit.worker.BackgroundWorker` step."""
        delivery = self.queue.receive()
        if delivery is None:
            return False
        try:
            message = MessageRequest.model_validate_json(delivery.body)
        except ValidationError as error:
            _log.error("dropping message %r: invalid body: %s", delivery.message_id, error)
        else:
            self.apply(delivery, message)
        self.queue.ack(delivery)
        return True

    def apply(self, delivery: Delivery, message: MessageRequest) -> None:
        with self.db.transaction() as conn:
            apply_entry(conn, delivery.message_id, message)
        self.failpoints.hit(AFTER_EFFECT_BEFORE_ACK)


class InboxConsumer(Consumer):
    """`idempotent`: the inbox row and the effect commit together."""

    def apply(self, delivery: Delivery, message: MessageRequest) -> None:
        with self.db.transaction() as conn:
            if in_inbox(conn, delivery.message_id):
                return
            add_to_inbox(conn, delivery.message_id)
            apply_entry(conn, delivery.message_id, message)
        self.failpoints.hit(AFTER_EFFECT_BEFORE_ACK)


class InboxAfterEffectConsumer(Consumer):
    """`broken-inbox-after-effect`: the inbox row commits after the effect, in its own transaction."""

    def apply(self, delivery: Delivery, message: MessageRequest) -> None:
        with self.db.reading() as conn:
            if in_inbox(conn, delivery.message_id):
                return
        with self.db.transaction() as conn:
            apply_entry(conn, delivery.message_id, message)
        self.failpoints.hit(AFTER_EFFECT_BEFORE_ACK)
        with self.db.transaction() as conn:
            add_to_inbox(conn, delivery.message_id)


CONSUMERS: dict[str, type[Consumer]] = {
    "naive": Consumer,
    "idempotent": InboxConsumer,
    "broken-inbox-after-effect": InboxAfterEffectConsumer,
}
