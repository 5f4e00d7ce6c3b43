"""Dotted paths into decoded JSON (``data.id``, ``items.0.ref``): one reading for every place a
scenario names a value inside a body (resource ids, success checks, probe rows)."""

from __future__ import annotations

from typing import Final


class _Missing:
    """The type of :data:`MISSING`: a path step that found nothing (unlike a JSON ``null``)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def dig(value: object, dotted: str) -> object:
    """``value`` followed along ``dotted``; list steps are indexes. :data:`MISSING` if a step fails."""
    for step in dotted.split("."):
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return MISSING
    return value


def scalar_text(value: object) -> str | None:
    """A found scalar as text (an id, a reference); ``None`` for missing, null, objects and lists."""
    if value is MISSING or value is None or isinstance(value, dict | list):
        return None
    return str(value)
