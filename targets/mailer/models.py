"""The request body of `POST /emails`, and the job it becomes in the queue."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field


class EmailRequest(BaseModel):
    """An e-mail to send. `reference` is the harness's op id; it travels in the `X-Op-Ref` header."""

    to: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]
    subject: Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\r\n]*$")]
    reference: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[^\r\n]*$")]
