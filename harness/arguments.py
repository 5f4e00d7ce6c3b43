"""Argument types for the command lines: a bad value is refused by argparse (exit 2, naming the option)
before anything starts, instead of failing, or silently meaning something else, mid-run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Callable
from pathlib import Path

MAX_PORT = 65535


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number within ``low..high`` (argparse exits 2 naming the option)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {low}..{high}, got {value}")
        return value

    return parse


def positive_seconds(text: str) -> float:
    """An argparse type: a finite number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds above 0, got {text!r}")
    return value


def writable_folder(text: str) -> str:
    """An argparse type: a folder the harness can create or write in, checked before anything starts."""
    folder = Path(text)
    existing = next((path for path in (folder, *folder.parents) if path.exists()), Path("."))
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {existing} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"{text}: cannot write in {existing}")
    return text


def json_value(text: str) -> object:
    """An argparse type: inline JSON, or ``@FILE`` for the JSON in a file (as curl's ``-d @FILE``)."""
    source = text
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise argparse.ArgumentTypeError(f"cannot read {path}: {error}") from None
    try:
        value: object = json.loads(source)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from None
    return value


def json_object(text: str) -> dict[str, object]:
    """An argparse type: :func:`json_value` that must be a JSON object (a request body with fields)."""
    value = json_value(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {type(value).__name__}")
    return value


def name_list(text: str) -> list[str]:
    """An argparse type: ``a,b`` → ``["a", "b"]``, so a repeated option may also take a comma list."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected one or more names, got {text!r}")
    return names
