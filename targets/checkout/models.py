"""What the checkout saga is made of: its request bodies, its participants and its three steps.

Every participant keeps one kind of level per item and moves it by a step's amount:
- payments: the balance charged to a customer (`charge` adds the amount, `refund` takes it back);
- inventory: the stock of a sku (`reserve` takes quantity, `release` returns it; never below zero);
- shipping: the free slots of an address (`book` takes one, `cancel` returns it; never below zero).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field

Text = Annotated[str, Field(min_length=1, max_length=255)]
Positive = Annotated[int, Field(gt=0, strict=True)]


class CheckoutRequest(BaseModel):
    """One checkout. `reference` is the harness's op id, carried into every participant's ledger."""

    customer: Text
    amount: Positive  # minor units charged
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Positive  # units of the sku reserved
    address: Text  # where one parcel is booked
    reference: Text


class StepRequest(BaseModel):
    """The body of every call to a participant, forward or compensation: which saga step, on what."""

    saga_id: Text
    step: Annotated[int, Field(ge=1, le=3, strict=True)]
    item: Text
    amount: Positive
    reference: Text


@dataclass(frozen=True)
class Participant:
    """A participant's two request kinds and how its forward kind moves an item's level."""

    name: str
    forward: str
    compensation: str
    forward_sign: int  # +1: the forward step adds to the level; -1: it takes from it
    floor: int | None  # the level may never go below this (None: no floor)

    @property
    def kinds(self) -> tuple[str, str]:
        return self.forward, self.compensation


PARTICIPANTS: dict[str, Participant] = {
    "payments": Participant("payments", "charge", "refund", forward_sign=+1, floor=None),
    "inventory": Participant("inventory", "reserve", "release", forward_sign=-1, floor=0),
    "shipping": Participant("shipping", "book", "cancel", forward_sign=-1, floor=0),
}


@dataclass(frozen=True)
class Step:
    """Step `number` of the saga: which participant, and the item and amount it takes from a checkout."""

    number: int
    participant: Participant
    item: Callable[[CheckoutRequest], str]
    amount: Callable[[CheckoutRequest], int]

    def request(self, saga_id: str, checkout: CheckoutRequest) -> StepRequest:
        return StepRequest(saga_id=saga_id, step=self.number, item=self.item(checkout),
                           amount=self.amount(checkout), reference=checkout.reference)


STEPS: tuple[Step, ...] = (
    Step(1, PARTICIPANTS["payments"], lambda c: c.customer, lambda c: c.amount),
    Step(2, PARTICIPANTS["inventory"], lambda c: c.sku, lambda c: c.quantity),
    Step(3, PARTICIPANTS["shipping"], lambda c: c.address, lambda _: 1),
)


def step_key(saga_id: str, step: int, kind: str) -> str:
    """The Idempotency-Key of one call of a saga: the same for every retry, after any restart."""
    return f"{saga_id}:{step}:{kind}"
