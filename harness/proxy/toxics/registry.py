"""Toxic types by JSON name: ``@register("latency")`` on a class makes the API accept that type.

Every module of this package is imported once (``load_all``), so adding a toxic is adding one file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

from harness.errors import describe_invalid, shown_value
from harness.proxy.toxics.base import Toxic

ToxicClass = type[Toxic[Any]]
C = TypeVar("C", bound=ToxicClass)

_REGISTRY: dict[str, ToxicClass] = {}
_LOADED = False


def register(type_name: str) -> Callable[[C], C]:
    """Class decorator: make ``cls`` the toxic for ``type_name`` in the API's JSON."""

    def decorate(cls: C) -> C:
        if type_name in _REGISTRY and _REGISTRY[type_name] is not cls:
            raise RuntimeError(f"toxic type {type_name!r} registered twice")
        cls.type_name = type_name
        _REGISTRY[type_name] = cls
        return cls

    return decorate


def load_all() -> None:
    """Import every toxic module of this package (each registers itself)."""
    global _LOADED
    if _LOADED:
        return
    package = importlib.import_module("harness.proxy.toxics")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name not in ("base", "registry") and not module.name.startswith("_"):
            importlib.import_module(f"harness.proxy.toxics.{module.name}")
    _LOADED = True


def toxic_types() -> dict[str, ToxicClass]:
    """Every registered toxic type by name."""
    load_all()
    return dict(_REGISTRY)


def per_request_types() -> frozenset[str]:
    """The toxic types that decide per HTTP request (``per_request``): only this project's proxy has them."""
    return frozenset(name for name, cls in toxic_types().items() if cls.per_request)


def lookup(type_name: str) -> ToxicClass | None:
    load_all()
    return _REGISTRY.get(type_name)


class InvalidAttributes(ValueError):
    """Attributes that do not fit the toxic's model; the message names the field and the value."""


def build(cls: ToxicClass, attributes: Mapping[str, object]) -> Toxic[Any]:
    """A toxic of class ``cls`` from JSON attributes, or InvalidAttributes saying what is wrong.

    Names the toxic does not have are ignored, as Toxiproxy's JSON decoding ignores them (a client
    may send attributes of a newer Toxiproxy); a scenario file, checked against the model itself,
    still has its typos refused.
    """
    known = cls.model.model_fields
    try:
        attrs = cls.model.model_validate({k: v for k, v in attributes.items() if k in known})
    except ValidationError as exc:
        raise InvalidAttributes(describe_validation_error(exc)) from None
    return cls(attrs)


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field: message (got value)``."""
    parts = []
    for error in exc.errors():
        field, problem, value = describe_invalid(error, unknown="unknown attribute", top="attributes")
        parts.append(f"{field}: {problem}{shown_value(value)}")
    return "; ".join(parts)
