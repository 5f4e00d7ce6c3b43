"""The request bodies of the orders API, validated before any key handling or effect happens."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Reference = Annotated[str, Field(min_length=1, max_length=255)]
"""The harness's op id, stored as ordinary business data on every effect row."""


class OrderRequest(BaseModel):
    """An order to place (`POST /orders`)."""

    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(gt=0, strict=True)]
    customer: Annotated[str, Field(min_length=1, max_length=255)]
    reference: Reference


class AddressRequest(BaseModel):
    """The delivery address that replaces the order's (`PUT /orders/{id}/address`)."""

    line1: Annotated[str, Field(min_length=1, max_length=255)]
    city: Annotated[str, Field(min_length=1, max_length=255)]
    postcode: Annotated[str | None, Field(max_length=32)] = None
    reference: Reference

    def address(self) -> dict[str, Any]:
        """The address as the order shows it: the body without the reference."""
        return self.model_dump(exclude={"reference"})


class IncrementRequest(BaseModel):
    """A relative change (`PATCH /orders/{id}`): not idempotent by nature, applied twice it adds twice."""

    op: Literal["increment"]
    field: Literal["quantity"]
    by: Annotated[int, Field(gt=0, strict=True)]
    reference: Reference
