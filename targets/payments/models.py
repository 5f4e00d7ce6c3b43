"""The request body of `POST /charges`, validated before any key handling or effect happens."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, field_validator


class ChargeRequest(BaseModel):
    """A charge to create. `reference` is the harness's op id, stored as ordinary business data."""

    amount: Annotated[int, Field(gt=0, strict=True, description="minor units, e.g. cents")]
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$", description="ISO 4217 code")]
    customer: Annotated[str, Field(min_length=1, max_length=255)]
    reference: Annotated[str, Field(min_length=1, max_length=255)]

    @field_validator("currency")
    @classmethod
    def _upper_case_currency(cls, currency: str) -> str:
        # One spelling per currency, so "eur" and "EUR" charges add up in the ledger.
        return currency.upper()
