"""The request body of `POST /orders`, validated before any key handling or effect happens."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class OrderRequest(BaseModel):
    """An order to place. `reference` is the harness's op id, stored as ordinary business data."""

    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(gt=0, strict=True)]
    customer: Annotated[str, Field(min_length=1, max_length=255)]
    reference: Annotated[str, Field(min_length=1, max_length=255)]
