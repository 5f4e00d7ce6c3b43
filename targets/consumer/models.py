"""The request body of `POST /messages`, which is also the body of the published message."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class MessageRequest(BaseModel):
    """A ledger entry to apply. `reference` is the harness's op id, stored as ordinary business data."""

    reference: Annotated[str, Field(min_length=1, max_length=255)]
    amount: Annotated[int, Field(gt=0, strict=True, description="minor units, e.g. cents")]
