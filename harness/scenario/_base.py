"""What every scenario model shares: strictness, and paths relative to the scenario file."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo
from pydantic_core import InitErrorDetails, PydanticCustomError

CALLABLE_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
"""``module:function``, as a flow or a callable probe names its Python function."""


class _Strict(BaseModel):
    """Unknown fields are an error (a typo is never ignored) and a loaded scenario never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def base_dir(info: ValidationInfo) -> Path | None:
    """The scenario file's folder, which relative paths in it are relative to (None: the cwd)."""
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("base_dir")
    return Path(base) if base is not None else None


def resolved(path: str, info: ValidationInfo) -> str:
    """``path`` relative to the scenario file (placeholders such as ``{data_dir}`` kept as written)."""
    base = base_dir(info)
    if path.startswith("{") or Path(path).is_absolute() or base is None:
        return path
    return str((base / path).resolve())


def invalid_at(loc: tuple[str | int, ...], problem: str, value: object) -> ValidationError:
    """An error at ``loc`` below the field being validated, so the message names the exact field.

    Raised from a validator, pydantic prefixes ``loc`` with the validated field's own path
    (``faults`` + ``("crash", "failpoints", "x")`` reads ``faults.crash.failpoints.x``).
    """
    error = PydanticCustomError("invalid", "{problem}", {"problem": problem})
    details = InitErrorDetails(type=error, loc=loc, input=value)
    return ValidationError.from_exception_data("Scenario", [details])
