"""What every scenario model shares: strictness, and paths relative to the scenario file."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

CALLABLE_PATTERN = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
"""``module:function``, as a flow or a callable probe names its Python function."""

IDENTIFIER_PATTERN = re.compile(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A name the harness builds paths and proxy names from: run folders, cell folders, proxies, toxics."""

IDENTIFIER_RULE = "a name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit, no '..'"


def identifier_problem(name: object) -> str | None:
    """Why ``name`` is not an identifier (a name that could leave a folder or break a URL), or None."""
    if not isinstance(name, str):
        return f"a name must be text ({IDENTIFIER_RULE})"
    return None if IDENTIFIER_PATTERN.fullmatch(name) else IDENTIFIER_RULE


def matching(pattern: str, rule: str) -> AfterValidator:
    """A validator refusing text that does not wholly match ``pattern``, saying ``rule``."""
    compiled = re.compile(pattern)

    def check(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError(rule)
        return text

    return AfterValidator(check)


Identifier = Annotated[str, matching(IDENTIFIER_PATTERN.pattern, IDENTIFIER_RULE)]
"""A field that names something the run turns into a path or a proxy name."""

EnvName = Annotated[
    str, matching(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name is letters, digits and '_'")
]
"""A variable the target's environment gets: anything else (``A=B``) fails only when the target starts."""

HeaderName = Annotated[str, matching(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", "not an HTTP header name")]
"""An HTTP header's name (RFC 9110's token): anything else fails only when the load sends it."""

HeaderValue = Annotated[str, matching(r"[^\r\n]*", "a header value must not hold a line break")]


def check_identifier_keys(names: Iterable[object]) -> None:
    """Refuse the first mapping key that is not an identifier (the error names the mapping and the key)."""
    for name in names:
        problem = identifier_problem(name)
        if problem is not None:
            raise invalid_at((), problem, name)


class _Strict(BaseModel):
    """Unknown fields are an error (a typo is never ignored), a loaded scenario never changes, and no
    number is infinite or NaN (``.inf`` is valid YAML, and would pass ``gt=0`` as a rate or a weight)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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


class _ReadsFiles(_Strict):
    """A probe declaration that may name a SQLite file and folders to import a callable from: both are
    relative to the scenario file, so the scenario reads the same wherever it is run from."""

    @field_validator("sqlite", check_fields=False)
    @classmethod
    def _sqlite_relative_to_scenario(cls, sqlite: str | None, info: ValidationInfo) -> str | None:
        return None if sqlite is None else resolved(sqlite, info)

    @field_validator("python_path", check_fields=False)
    @classmethod
    def _python_path_relative_to_scenario(
        cls, paths: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        return tuple(resolved(path, info) for path in paths)


def names_with_settings(data: Any, field: str, settings_field: str) -> Any:
    """``field: {a: {...}, b: {...}}`` written as a mapping is the names (``field``) plus each one's own
    settings (``settings_field``); a list of names, or anything else, is left as written."""
    if isinstance(data, dict) and isinstance(data.get(field), dict):
        mapping = data[field]
        settings = {name: spec or {} for name, spec in mapping.items()}
        return {**data, field: tuple(mapping), settings_field: settings}
    return data


def invalid_at(loc: tuple[str | int, ...], problem: str, value: object) -> ValidationError:
    """An error at ``loc`` below the field being validated, so the message names the exact field.

    Raised from a validator, pydantic prefixes ``loc`` with the validated field's own path
    (``faults`` + ``("crash", "failpoints", "x")`` reads ``faults.crash.failpoints.x``).
    """
    error = PydanticCustomError("invalid", "{problem}", {"problem": problem})
    details = InitErrorDetails(type=error, loc=loc, input=value)
    return ValidationError.from_exception_data("Scenario", [details])
