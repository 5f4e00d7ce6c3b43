"""Toxics: one module per type, each registered by its JSON type name (see ``registry``)."""

from harness.proxy.toxics.base import MAX_MS, Attributes, Toxic
from harness.proxy.toxics.registry import build, load_all, lookup, register, toxic_types

__all__ = ["MAX_MS", "Attributes", "Toxic", "build", "load_all", "lookup", "register", "toxic_types"]
