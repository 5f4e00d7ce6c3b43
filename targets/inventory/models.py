"""The request body of `POST /reservations`, validated before any key handling or effect happens."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class ReservationRequest(BaseModel):
    """Take `quantity` of `sku` out of stock. `reference` is the harness's op id, stored as business data."""

    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(gt=0, strict=True)]
    reference: Annotated[str, Field(min_length=1, max_length=255)]
