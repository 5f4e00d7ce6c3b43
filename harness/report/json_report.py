"""run.json: everything a run found, machine-readable, for baselines and other tools.

The document is the :class:`RunResult` itself, walked field by field, so a field added to the result or
the verdict appears here without touching this module. ``schema_version`` comes first and is checked on
reading: a later comparison with a baseline must refuse a file it would misread. Output is byte-for-byte
deterministic for equal results (declared field order, no timestamps of its own), so two runs' files can
be diffed.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, TypeAlias

from pydantic import BaseModel

from harness.errors import HarnessError
from harness.result import RUN_SCHEMA_VERSION, RunResult, require_run_schema

JsonValue: TypeAlias = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def _to_json(value: object) -> JsonValue:
    """Dataclasses and pydantic events as objects in declared field order; NaN and ∞ as null.

    JSON has no NaN, and a value that could not be computed (an unknown cell's gate) is best read as
    "absent" by other tools.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _to_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, BaseModel):
        dumped: JsonValue = value.model_dump(mode="json")
        return dumped
    if isinstance(value, list | tuple):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _to_json(item) for key, item in value.items()}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"run.json cannot hold a {type(value).__name__}")


def run_document(result: RunResult) -> dict[str, JsonValue]:
    """The run as a JSON-ready mapping: schema version, every RunResult field, and the overall verdict."""
    document: dict[str, JsonValue] = {"schema_version": RUN_SCHEMA_VERSION}
    body = _to_json(result)
    assert isinstance(body, dict)
    document.update(body)
    document["passed"] = result.passed
    return document


def render_run_json(result: RunResult) -> str:
    """run.json's text: indented for humans reading a diff, ending in a newline."""
    return json.dumps(run_document(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_run_json(result: RunResult, path: Path) -> Path:
    """Write run.json to ``path`` and return the path."""
    path.write_text(render_run_json(result), encoding="utf-8")
    return path


def read_run_json(path: Path) -> dict[str, Any]:
    """Read a run.json, refusing one whose schema version this harness does not know."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise HarnessError(f"{path}: cannot read run.json: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise HarnessError(f"{path}: not valid JSON: {error.msg} at line {error.lineno}") from None
    except (UnicodeDecodeError, RecursionError) as error:  # a binary file; JSON nested thousands deep
        raise HarnessError(f"{path}: not a run.json: {error}") from None
    if not isinstance(document, dict):
        raise HarnessError(f"{path}: expected a JSON object, got {type(document).__name__}")
    require_run_schema(document, path)
    return document
